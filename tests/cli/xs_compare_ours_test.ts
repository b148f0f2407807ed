/**
 * The same byte-for-byte comparisons as xs_compare_test.ts, on our
 * xenstored (a separate process): Debian's xenstore-utils and our `xs`
 * against our daemon must print what they print against the real one.
 */
import { startOurs } from "../../bench/support/daemons.ts";
import { XsClient } from "../../src/xenstore/client/client.ts";
import { connectUnix } from "../../src/xenstore/client/unix_link.ts";
import { registerXsComparisons } from "./xs_compare_cases.ts";
import { REAL_DAEMON_DOMAINS, type XsDaemon } from "./xs_daemon.ts";

async function startOurXsDaemon(): Promise<XsDaemon> {
  const d = await startOurs(["--domains", REAL_DAEMON_DOMAINS.replace(/^0-/, "1-")]);
  return {
    name: d.name,
    socketPath: d.socket,
    async guest(domid) {
      const c = new XsClient(await connectUnix(d.socket));
      if (!(await c.isDomainIntroduced(domid))) await c.introduce(domid, 0, 1);
      c.close();
      return { path: `${d.dir}/domains/${domid}/socket`, close: async () => {} };
    },
    stop: () => d.stop(),
  };
}

registerXsComparisons(startOurXsDaemon, "xs vs xenstore-utils on our xenstored");
