/**
 * @module
 * {@link XsConnectionLostError}: what every pending and later request of an
 * `XsClient` rejects with once its link is gone. It is not an `XsError`:
 * no server said anything, the connection simply ended (`cause` says why).
 */

/** A request could not complete because the connection is gone. */
export class XsConnectionLostError extends Error {
  constructor(message: string, cause?: Error) {
    super(message, cause ? { cause } : undefined);
    this.name = "XsConnectionLostError";
  }
}
