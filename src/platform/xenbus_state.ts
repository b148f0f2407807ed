/**
 * @module
 * `enum xenbus_state` (xenstore-protocol.md §9.1, `xen/include/public/io/xenbus.h`),
 * written as decimal strings in a device's `state` node, and the reader's
 * rule for a missing or malformed node: Unknown (Linux
 * `xenbus_read_driver_state`).
 *
 * Shared by both ends of the handshake: dom0's backends (toolstack) and the
 * guest's frontends, which may not import each other (STYLE.md layers).
 */

/** The states, by their `XenbusState*` names. */
export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;

/** One state's number. */
export type XenbusStateValue = typeof XenbusState[keyof typeof XenbusState];

/** A `state` node's value as a state: Unknown when missing or not a known state. */
export function parseXenbusState(value: string | undefined): XenbusStateValue {
  if (value === undefined || !/^[0-8]$/.test(value)) return XenbusState.Unknown;
  return Number(value) as XenbusStateValue;
}

/** `Connected (4)` and so on, for messages. */
export function xenbusStateName(state: number): string {
  const name = Object.entries(XenbusState).find(([, v]) => v === state)?.[0];
  return name === undefined ? `${state}` : `${name} (${state})`;
}
