/**
 * Byte-for-byte comparison of `xs` with Debian's xenstore-utils, both on
 * the real C xenstored (or the daemon at `XS_TEST_SOCKET`). The cases are
 * in `xs_compare_cases.ts`.
 */
import { registerXsComparisons } from "./xs_compare_cases.ts";

registerXsComparisons();
