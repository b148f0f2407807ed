/**
 * The conformance suite against each of our transports. The same cases run
 * against the real C xenstored in conformance_real_test.ts.
 */
import { runConformance } from "./suite.ts";
import { startOurTarget } from "./our_target.ts";

runConformance((o) => startOurTarget("unix", o), "ours-unix");
runConformance((o) => startOurTarget("websocket", o), "ours-websocket");
runConformance((o) => startOurTarget("in-process", o), "ours-in-process");
