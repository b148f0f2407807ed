/**
 * Console 0: libxl's read-only `~/console`, xenconsoled mapping the ring
 * through the reserved grant entry and binding the console channel,
 * publishing the tty libxl waits for, carrying the guest's output, and
 * letting go when the entries are removed.
 */
import assert from "node:assert/strict";
import {
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_unbound,
  GNTTAB_RESERVED_CONSOLE,
  GTF_reading,
} from "../../src/hv/xen_abi.ts";
import { addConsole, waitForConsoleTty } from "../../src/toolstack/devices/add_console.ts";
import { removeDevice } from "../../src/toolstack/devices/remove_device.ts";
import { ConsoleFrontend } from "../../src/guest-agents/frontends/console_frontend.ts";
import { bringUpFrontends } from "../../src/guest-agents/frontends/bring_up_frontends.ts";
import {
  CONSOLE_PFN,
  exists,
  grantEntries,
  keys,
  newDeviceHost,
  perms,
  portStatus,
} from "./device_host.ts";

Deno.test("console: read-only ~/console, xenconsoled maps entry 0, binds the port, writes the tty", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  const d = g.domid;
  const fe = `/local/domain/${d}/console`;
  const be = `/local/domain/0/backend/console/${d}/0`;
  await h.run(
    addConsole(h.tc, d, { port: g.consolePort, ringRef: CONSOLE_PFN, backendType: "xenconsoled" }),
  );
  assert.equal(await h.run(waitForConsoleTty(h.tc, d)), "/dev/pts/0");

  assert.equal(await perms(h, fe), `n0,r${d}`);
  assert.equal(await perms(h, `${fe}/limit`), `n0,r${d}`);
  assert.equal(await perms(h, `${fe}/backend`), `n0,r${d}`);
  assert.equal(await perms(h, `${fe}/backend-id`), `n${d},r0`);
  assert.deepEqual(await keys(h, fe), {
    "backend": be,
    "backend-id": "0",
    "limit": "1048576",
    "output": "pty",
    "port": String(g.consolePort),
    "ring-ref": String(CONSOLE_PFN),
    "tty": "/dev/pts/0",
    "type": "xenconsoled",
  });
  assert.equal(await perms(h, be), `n0,r${d}`);
  assert.deepEqual(await keys(h, be), {
    "frontend": fe,
    "frontend-id": String(d),
    "online": "1",
    "protocol": "vt100",
    "state": "1",
  });
  const entry0 = grantEntries(h, d).find((e) => e.ref === GNTTAB_RESERVED_CONSOLE)!;
  assert.equal(entry0.frame, CONSOLE_PFN);
  assert.equal(entry0.flags & GTF_reading, GTF_reading);
  assert.equal(portStatus(h, d, g.consolePort)?.status, EVTCHNSTAT_interdomain);
  assert.ok(h.xenconsoled.connected(d));

  // The guest writes; xenconsoled reads the ring on the event.
  const [c] = await h.run(bringUpFrontends(g.xs, g.env, {}));
  assert.ok(c instanceof ConsoleFrontend);
  assert.equal(c.state, 4);
  assert.equal(await c.write("Linux version 6.1.0-xen\n"), 24);
  await h.runUntil(() => h.xenconsoled.output(d).length === 24);
  assert.equal(h.xenconsoled.output(d), "Linux version 6.1.0-xen\n");

  // Removal is synchronous for console 0; xenconsoled unmaps and unbinds.
  await h.run(removeDevice(h.tc, d, "console", 0));
  await h.runUntil(() => !h.xenconsoled.connected(d) && h.xenconsoled.bus.devices.length === 0);
  assert.equal(await exists(h, fe), false);
  assert.equal(await exists(h, be), false);
  assert.equal(await exists(h, `/libxl/${d}/device/console`), false);
  const after = grantEntries(h, d).find((e) => e.ref === GNTTAB_RESERVED_CONSOLE)!;
  assert.equal(after.flags & GTF_reading, 0);
  assert.equal(portStatus(h, d, g.consolePort)?.status, EVTCHNSTAT_unbound);
});

Deno.test("console: an ioemu console is QEMU's; xenconsoled leaves it and no tty comes (libxl goes on after 10 s)", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  await h.run(
    addConsole(h.tc, g.domid, { port: g.consolePort, ringRef: CONSOLE_PFN, backendType: "ioemu" }),
  );
  const t0 = h.sched.nowNs();
  assert.equal(await h.run(waitForConsoleTty(h.tc, g.domid)), undefined);
  assert.equal(h.sched.nowNs() - t0, 10e9);
  assert.equal(portStatus(h, g.domid, g.consolePort)?.status, EVTCHNSTAT_unbound);
});
