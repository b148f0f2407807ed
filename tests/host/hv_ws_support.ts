/** -EPERM as a hypercall return. */
export const EPERM_RET = -1;
