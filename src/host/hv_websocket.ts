/**
 * @module
 * The hypervisor for guest agents running as separate processes: a
 * WebSocket route (`/hv`) of the host's endpoint, bound to the credential
 * the client presented, so a guest can only make its own hypercalls (Xen's
 * privilege checks then apply as for any caller). Text frames carry JSON:
 *
 *   → {"id":1,"op":"hypercall","call":{...}}   ← {"id":1,"result":{...}}
 *   → {"id":2,"op":"attach"}                   ← {"id":2,"result":true}
 *       then upcalls ← {"upcall":"event","port":5} | {"upcall":"vcpuRun",...}
 *   → {"id":3,"op":"read","pfn":9,"offset":0,"length":16} ← {"id":3,"result":"<base64>"}
 *   → {"id":4,"op":"write","pfn":9,"offset":0,"bytes":"<base64>"} ← {"id":4,"result":0}
 *
 * Malformed frames get `{"id":..,"error":".."}`; the socket stays usable.
 */
import type { Hypervisor } from "../hv/hypervisor.ts";
import type { Hypercall } from "../hv/hypercall.ts";
import { PAGE_SIZE } from "../hv/xen_abi.ts";
import type { Identity } from "../xenstore/server/credentials.ts";
import type { WsRoute } from "../xenstore/server/websocket_transport.ts";

/** Longest frame accepted (a hypercall with its argument arrays). */
export const HV_WS_FRAME_MAX = 1 << 20;

export function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return btoa(s);
}

export function fromBase64(t: string): Uint8Array {
  const s = atob(t);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The `/hv` route for `hv`. */
export function hvWebSocketRoute(hv: Hypervisor): WsRoute {
  return (socket: WebSocket, who: Identity) => {
    const send = (m: unknown) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(m));
    };
    let detach: (() => void) | undefined;
    socket.onmessage = (ev) => {
      let id: unknown = null;
      try {
        if (typeof ev.data !== "string" || ev.data.length > HV_WS_FRAME_MAX) {
          throw new Error("expected a JSON text frame");
        }
        const m = JSON.parse(ev.data);
        id = m.id;
        send({ id, result: dispatch(m) });
      } catch (e) {
        send({ id, error: e instanceof Error ? e.message : String(e) });
      }
    };
    socket.onclose = () => detach?.();
    const dispatch = (
      m: {
        op: string;
        call?: Hypercall;
        pfn?: number;
        offset?: number;
        length?: number;
        bytes?: string;
      },
    ) => {
      switch (m.op) {
        case "hypercall":
          if (!m.call || typeof m.call !== "object") throw new Error("hypercall: missing call");
          return hv.hypercall(who.domid, m.call);
        case "attach":
          if (detach) throw new Error("attach: already attached");
          detach = hv.attachKernel(who.domid, {
            event: (port) => send({ upcall: "event", port }),
            vcpuRun: (vcpu, ctx) => send({ upcall: "vcpuRun", vcpu, ctx }),
            wake: (vcpu) => send({ upcall: "wake", vcpu }),
            trigger: (trigger, vcpu) => send({ upcall: "trigger", trigger, vcpu }),
          });
          return true;
        case "read": {
          const len = m.length ?? 0;
          if (!(len >= 0 && len <= PAGE_SIZE)) {
            throw new Error(`read: length ${len} is not within a page`);
          }
          const out = new Uint8Array(len);
          const r = hv.guestRead(who.domid, m.pfn ?? -1, m.offset ?? 0, out);
          return r < 0 ? r : toBase64(out);
        }
        case "write":
          return hv.guestWrite(who.domid, m.pfn ?? -1, m.offset ?? 0, fromBase64(m.bytes ?? ""));
        default:
          throw new Error(`unknown op ${JSON.stringify(m.op)}`);
      }
    };
  };
}
