/**
 * @module
 * {@link Target}s for our xenstored, one per transport, all in this
 * process: the Unix sockets (dom0's and the per-domain guest sockets), the
 * WebSocket transport with credentials, and an in-process byte link (the
 * same Session and parser, no OS socket). The hypervisor is the
 * stand-alone {@link StaticDomains}; destroying a guest removes it there
 * and raises what VIRQ_DOM_EXC would, a domain check.
 */
import { parseXenstoredFlags } from "../../src/cli/xenstored_options.ts";
import { parseDomainList, StaticDomains } from "../../src/xenstore/domains.ts";
import { Credentials } from "../../src/xenstore/server/credentials.ts";
import { encodeBatch } from "../../src/xenstore/server/encode_batch.ts";
import { UnixTransport } from "../../src/xenstore/server/unix_transport.ts";
import { WebSocketTransport } from "../../src/xenstore/server/websocket_transport.ts";
import { Xenstored } from "../../src/xenstore/server/xenstored.ts";
import { Op } from "../../src/xenstore/wire/op.ts";
import { StreamRawConn } from "./raw_conn.ts";
import type { RawConn, Target, TargetOptions } from "./target.ts";
import { connectUnix } from "./unix_raw_conn.ts";

export type OurTransport = "unix" | "websocket" | "in-process";

/** A RawConn over a WebSocket, after presenting `credential`. */
async function connectWs(url: string, credential: string): Promise<RawConn> {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => ws.send(credential);
    ws.onmessage = (
      ev,
    ) => (typeof ev.data === "string" && ev.data.startsWith("ok ")
      ? resolve()
      : reject(new Error(String(ev.data))));
    ws.onclose = (ev) => reject(new Error(`websocket closed ${ev.code} ${ev.reason}`));
  });
  const conn = new StreamRawConn((b) => Promise.resolve(ws.send(b)), () => ws.close());
  ws.onmessage = (ev) => conn.receive(new Uint8Array(ev.data as ArrayBuffer));
  ws.onclose = () => conn.receiveEnd();
  return conn;
}

/** A RawConn straight into a Session of `server` (bytes, no socket). */
function connectInProcess(server: Xenstored, domid: number): RawConn {
  // deno-lint-ignore prefer-const -- assigned after the session it needs
  let conn!: StreamRawConn;
  const session = server.open(domid, domid === 0 ? "in-process" : "guest", {
    write: (batch) => {
      const bytes = encodeBatch(batch);
      queueMicrotask(() => conn.receive(bytes));
    },
    close: () => queueMicrotask(() => conn.receiveEnd()),
  });
  conn = new StreamRawConn((b) => {
    const copy = b.slice();
    queueMicrotask(() => session.receive(copy));
    return Promise.resolve();
  }, () => session.close("client closed"));
  return conn;
}

/** Starts our xenstored and returns a Target over `transport`. */
export async function startOurTarget(
  transport: OurTransport,
  opts: TargetOptions = {},
): Promise<Target> {
  const flags = parseXenstoredFlags([...(opts.daemonArgs ?? [])], {});
  const domains = new StaticDomains(
    opts.existingDomains ? parseDomainList(opts.existingDomains) : [],
  );
  const server = new Xenstored({ quotas: flags.quotas, domains });
  const rundir = await Deno.makeTempDir({ dir: "/tmp", prefix: "oxc" });
  const unix = new UnixTransport(server, rundir);
  unix.start();
  const credentials = new Credentials(rundir);
  const ws = new WebSocketTransport(server, credentials, "127.0.0.1:0");
  await ws.start();
  const conns: RawConn[] = [];
  const open = async (domid: number): Promise<RawConn> => {
    let c: RawConn;
    if (transport === "unix") {
      c = await connectUnix(domid === 0 ? unix.socketPath : unix.guestSocketPath(domid));
    } else if (transport === "websocket") {
      c = await connectWs(
        ws.url,
        domid === 0 ? credentials.adminToken : credentials.secretOf(domid)!,
      );
    } else c = connectInProcess(server, domid);
    conns.push(c);
    return c;
  };
  const admin = await open(0);
  return {
    name: `ours-${transport}`,
    dom0: () => open(0),
    async guest(domid) {
      const r = await admin.req(Op.INTRODUCE, [String(domid), "0", "1"]);
      if (r.error) throw new Error(`INTRODUCE ${domid}: ${r.error}`);
      return await open(domid);
    },
    async destroyGuest(domid) {
      domains.destroy(domid);
      server.checkDomains();
      // Like the real target: resolve once xenstored no longer has it
      // introduced (a SET_TARGET target lingers until its device model dies).
      for (let i = 0;; i++) {
        const r = await admin.req(Op.IS_DOMAIN_INTRODUCED, [String(domid)]);
        if (new TextDecoder().decode(r.payload) === "F\0") return;
        if (i >= 500) throw new Error(`domain ${domid} still introduced after 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      for (const c of conns) c.close();
      server.shutdown();
      await unix.stop();
      await ws.stop();
      await Deno.remove(rundir, { recursive: true }).catch(() => {});
    },
  };
}
