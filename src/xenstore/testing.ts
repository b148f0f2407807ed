/**
 * @module
 * Test helpers for the engine (not part of the public surface).
 */
import type { Connection } from "./connection.ts";
import type { Engine } from "./engine.ts";

/**
 * A guest connection of `domid`, introducing the domain first as a
 * toolstack would (a guest's ring is only served once introduced). Output
 * the introduction produced (`@introduceDomain` events) is discarded.
 */
export function connectGuest(engine: Engine, domid: number): Connection {
  if (!engine.domains.serves(domid)) {
    engine.domains.introduce(domid, 0, 1);
    engine.takeOutput();
  }
  return engine.connect(domid, "guest");
}
