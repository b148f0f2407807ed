/**
 * @module
 * The conformance suite against the real Xen 4.17 C xenstored. Where the
 * daemon cannot run here, the tests say so loudly and are skipped — except
 * with CI=true, where that is a failure (CI installs everything).
 */
import { probeRealDaemon, startRealTarget } from "./real_target.ts";
import { runConformance } from "./suite.ts";

const unavailable = await probeRealDaemon();
const ci = Deno.env.get("CI") === "true";

if (unavailable !== null) {
  const msg = `\n*** SKIPPING the real-xenstored conformance suite: ${unavailable}\n` +
    "*** (needs Debian xenstore-utils, gcc, libxen-dev, /usr/bin/python3; see " +
    "../shared/tools/real-xenstored/README.md)\n";
  console.error(msg);
  if (ci) {
    Deno.test("real xenstored is available (required when CI=true)", () => {
      throw new Error(unavailable);
    });
  }
}

runConformance(startRealTarget, "real-c", { ignore: unavailable !== null });
