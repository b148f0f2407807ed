import assert from "node:assert/strict";
import { xlStateString } from "./domain_info.ts";
import { Errno } from "./errno.ts";
import type { Hypercall } from "./hypercall.ts";
import { TRACE_ARRAY_MAX } from "./hypervisor.ts";
import { buildGuest, flagsOf, newHv, onlineContext } from "./testing.ts";
import {
  DOMID_FIRST_RESERVED,
  DOMID_SELF,
  SHUTDOWN_CODE_INVALID,
  SHUTDOWN_poweroff,
  SHUTDOWN_suspend,
  VCPUS_MAX,
  VIRQ_DOM_EXC,
  XEN_DOMINF_paused,
} from "./xen_abi.ts";

Deno.test("hv: dom0 exists at boot, privileged and running", () => {
  const { hv } = newHv();
  assert.deepEqual(hv.domids(), [0]);
  const info = hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: 0 }).info!;
  assert.equal(xlStateString(info.flags), "r-----");
  assert.equal(info.handle, "00000000-0000-0000-0000-000000000000");
  assert.equal(info.nrOnlineVcpus, 1);
  assert.ok(hv.isRunning(0));
});

Deno.test("hv: createdomain picks domids upward, starts paused with vCPUs down", () => {
  const { hv } = newHv();
  const c = (domid?: number) =>
    hv.hypercall(0, { hc: "domctl", op: "createdomain", domid, config: { maxVcpus: 2 } });
  assert.deepEqual(c(), { ret: 0, domid: 1 });
  assert.deepEqual(c(5), { ret: 0, domid: 5 });
  assert.deepEqual(c(5), { ret: -Errno.EEXIST });
  assert.deepEqual(c(), { ret: 0, domid: 2 });
  assert.deepEqual(c(DOMID_FIRST_RESERVED), { ret: 0, domid: 3 }, "reserved ids mean 'pick one'");
  const info = hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: 1 }).info!;
  assert.equal(info.flags, (SHUTDOWN_CODE_INVALID << 16 | XEN_DOMINF_paused) >>> 0);
  assert.equal(info.nrOnlineVcpus, 0);
  assert.equal(info.maxVcpuId, 1);
  assert.match(
    info.handle,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
});

Deno.test("hv: createdomain validates its config", () => {
  const { hv } = newHv();
  const bad = [
    { maxVcpus: 0 },
    { maxVcpus: VCPUS_MAX + 1 },
    { maxVcpus: 1, maxEvtchnPort: 4096 },
    { maxVcpus: 1, maxGrantFrames: 65 },
    { maxVcpus: 1, maxMaptrackFrames: 1025 },
    { maxVcpus: 1, handle: "not-a-uuid" },
  ];
  for (const config of bad) {
    assert.equal(
      hv.hypercall(0, { hc: "domctl", op: "createdomain", config }).ret,
      -Errno.EINVAL,
      JSON.stringify(config),
    );
  }
  const handle = "12345678-1234-1234-1234-123456789abc";
  const r = hv.hypercall(0, {
    hc: "domctl",
    op: "createdomain",
    config: { maxVcpus: VCPUS_MAX, handle },
  });
  assert.equal(r.ret, 0);
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: r.domid! }).info!.handle,
    handle,
  );
});

Deno.test("hv: domainsMax bounds live domains (-ENOMEM past it)", () => {
  const { hv } = newHv({ domainsMax: 3 });
  const c = () =>
    hv.hypercall(0, { hc: "domctl", op: "createdomain", config: { maxVcpus: 1 } }).ret;
  assert.deepEqual([c(), c(), c()], [0, 0, -Errno.ENOMEM]);
});

Deno.test("hv: a full host refuses createdomain with -ENOMEM", () => {
  const { hv } = newHv({ machineFramesMax: 3 }); // dom0 uses 2
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "createdomain", config: { maxVcpus: 1 } }).ret,
    -Errno.ENOMEM,
  );
});

Deno.test("hv: guests get -EPERM for privileged operations", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  const calls: Hypercall[] = [
    { hc: "domctl", op: "createdomain", config: { maxVcpus: 1 } },
    { hc: "domctl", op: "pausedomain", domid: 0 },
    { hc: "domctl", op: "getdomaininfo", domid: g },
    { hc: "domctl", op: "destroydomain", domid: 0 },
    { hc: "sysctl", op: "getdomaininfolist", firstDomain: 0, maxDomains: 10 },
    { hc: "sched_op", op: "remote_shutdown", domid: 0, reason: 0 },
    { hc: "memory_op", op: "populate_physmap", domid: 0, extentOrder: 0, gpfns: [0] },
    {
      hc: "grant_table_op",
      op: "seed",
      dom: g,
      consoleGfn: 0,
      consoleDomid: 0,
      xenstoreGfn: 1,
      xenstoreDomid: 0,
    },
  ];
  for (const c of calls) assert.equal(hv.hypercall(g, c).ret, -Errno.EPERM, JSON.stringify(c));
  assert.equal(hv.foreignMap(g, 0, [0], false).ret, -Errno.EPERM);
});

Deno.test("hv: a xenstore domain may call getdomaininfo and getdomaininfolist only", () => {
  const { hv } = newHv();
  const xs = buildGuest(hv, { config: { xsDomain: true } });
  assert.equal(hv.hypercall(xs, { hc: "domctl", op: "getdomaininfo", domid: 0 }).ret, 0);
  assert.equal(
    hv.hypercall(xs, { hc: "sysctl", op: "getdomaininfolist", firstDomain: 0, maxDomains: 9 }).ret,
    2,
  );
  assert.equal(hv.hypercall(xs, { hc: "domctl", op: "pausedomain", domid: 0 }).ret, -Errno.EPERM);
  assert.match(xlStateString(flagsOf(hv, xs)), /^r/);
});

Deno.test("hv: a privileged toolstack domain may do what dom0 does", () => {
  const { hv } = newHv();
  const ts = buildGuest(hv, { config: { privileged: true } });
  const r = hv.hypercall(ts, { hc: "domctl", op: "createdomain", config: { maxVcpus: 1 } });
  assert.equal(r.ret, 0);
  assert.equal(hv.hypercall(ts, { hc: "domctl", op: "destroydomain", domid: r.domid! }).ret, 0);
});

Deno.test("hv: unknown hypercalls and ops are -ENOSYS; dead callers -ESRCH", () => {
  const { hv } = newHv();
  assert.equal(hv.hypercall(0, { hc: "nope" } as unknown as Hypercall).ret, -Errno.ENOSYS);
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "nope", domid: 0 } as unknown as Hypercall).ret,
    -Errno.ENOSYS,
  );
  assert.equal(
    hv.hypercall(0, { hc: "memory_op", op: "nope", domid: 0 } as unknown as Hypercall).ret,
    -Errno.ENOSYS,
  );
  assert.equal(hv.hypercall(42, { hc: "sched_op", op: "yield" }).ret, -Errno.ESRCH);
  assert.equal(hv.hypercall(0, null as unknown as Hypercall).ret, -Errno.EFAULT);
});

Deno.test("hv: pause/unpause count like Xen and show in the flags", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  const op = (op: "pausedomain" | "unpausedomain", domid = g) =>
    hv.hypercall(0, { hc: "domctl", op, domid }).ret;
  assert.equal(xlStateString(flagsOf(hv, g)), "r-----");
  assert.equal(op("pausedomain"), 0);
  assert.equal(op("pausedomain"), 0);
  assert.equal(xlStateString(flagsOf(hv, g)), "--p---");
  assert.equal(op("unpausedomain"), 0);
  assert.equal(op("unpausedomain"), 0);
  assert.equal(op("unpausedomain"), -Errno.EINVAL);
  assert.equal(op("pausedomain", 0), -Errno.EINVAL, "dom0 pausing itself");
  for (let i = 0; i < 255; i++) assert.equal(op("pausedomain"), 0);
  assert.equal(op("pausedomain"), -Errno.EOVERFLOW, "the 256th pause");
});

Deno.test("hv: suspend — shutdown(suspend) pauses, raises VIRQ_DOM_EXC; fast resume returns 1", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv, { rip: 0x2000 });
  const runs: [number, number, number][] = [];
  hv.attachKernel(g, { vcpuRun: (v, ctx) => runs.push([v, ctx.rip, ctx.rax]) });
  const exc: number[] = [];
  const port = hv.hypercall(0, {
    hc: "event_channel_op",
    op: "bind_virq",
    virq: VIRQ_DOM_EXC,
    vcpu: 0,
  }).port!;
  hv.onPort(0, port, (p) => exc.push(p));
  sched.run();
  assert.deepEqual(runs, [[0, 0x2000, 0]], "first run");
  runs.length = 0;
  assert.equal(
    hv.hypercall(g, { hc: "sched_op", op: "shutdown", reason: SHUTDOWN_suspend, arg: 0x77 }).ret,
    0,
  );
  sched.run();
  assert.deepEqual(exc, [port]);
  assert.equal(xlStateString(flagsOf(hv, g)), "---ss-");
  assert.deepEqual(runs, [], "a suspended guest does not run");
  // libxc's fast resume (§4.1): read vCPU0, set RAX = 1, write back, resumedomain.
  const ctx = hv.hypercall(0, { hc: "domctl", op: "getvcpucontext", domid: g, vcpu: 0 }).ctx!;
  assert.deepEqual([ctx.rax, ctx.rdx], [0, 0x77], "RAX 0 from the hypercall, RDX = start_info MFN");
  ctx.rax = 1;
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "setvcpucontext", domid: g, vcpu: 0, ctx }).ret,
    0,
  );
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "resumedomain", domid: g }).ret, 0);
  sched.run();
  assert.deepEqual(runs, [[0, 0x2000, 1]], "the guest sees 1: cancelled");
  assert.equal(xlStateString(flagsOf(hv, g)), "r-----");
});

Deno.test("hv: suspend with a subscribed suspend evtchn signals it and not VIRQ_DOM_EXC", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv);
  hv.attachKernel(g, {});
  const exc: number[] = [];
  const vp = hv.hypercall(0, {
    hc: "event_channel_op",
    op: "bind_virq",
    virq: VIRQ_DOM_EXC,
    vcpu: 0,
  }).port!;
  hv.onPort(0, vp, () => exc.push(1));
  // Guest advertises a port for the toolstack (§3.3); toolstack binds and subscribes.
  const gp = hv.hypercall(g, {
    hc: "event_channel_op",
    op: "alloc_unbound",
    dom: DOMID_SELF,
    remoteDom: 0,
  }).port!;
  const lp = hv.hypercall(0, {
    hc: "event_channel_op",
    op: "bind_interdomain",
    remoteDom: g,
    remotePort: gp,
  }).localPort!;
  const notes: number[] = [];
  hv.onPort(0, lp, (p) => notes.push(p));
  sched.run();
  assert.deepEqual(notes, [lp], "the spurious first notification after bind");
  notes.length = 0;
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "subscribe", domid: g, port: gp }).ret, 0);
  hv.hypercall(g, { hc: "sched_op", op: "shutdown", reason: SHUTDOWN_suspend });
  sched.run();
  assert.deepEqual([notes, exc], [[lp], []]);
  assert.equal(xlStateString(flagsOf(hv, g)), "---ss-");
});

Deno.test("hv: remote_shutdown (method C) suspends without the guest's help", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv);
  assert.equal(
    hv.hypercall(0, { hc: "sched_op", op: "remote_shutdown", domid: g, reason: SHUTDOWN_suspend })
      .ret,
    0,
  );
  sched.run();
  assert.equal(xlStateString(flagsOf(hv, g)), "---ss-");
  assert.equal(
    hv.hypercall(0, { hc: "sched_op", op: "remote_shutdown", domid: 99, reason: 0 }).ret,
    -Errno.ESRCH,
  );
  assert.equal(
    hv.hypercall(0, { hc: "sched_op", op: "remote_shutdown", domid: g, reason: 9 }).ret,
    -Errno.EINVAL,
  );
});

Deno.test("hv: destroy — dying, dead (VIRQ_DOM_EXC), then gone (VIRQ_DOM_EXC again)", () => {
  const { hv, sched, trace } = newHv();
  const g = buildGuest(hv, { pages: 64 });
  let exc = 0;
  const vp = hv.hypercall(0, {
    hc: "event_channel_op",
    op: "bind_virq",
    virq: VIRQ_DOM_EXC,
    vcpu: 0,
  }).port!;
  hv.onPort(0, vp, () => exc++);
  const before = hv.machineFramesUsed;
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: g }).ret, 0);
  assert.equal(xlStateString(flagsOf(hv, g)), "-----d", "dead, still visible until freed");
  assert.equal(hv.machineFramesUsed, before - 64 - 2, "memory, shared_info and grant frame freed");
  sched.run();
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: g }).ret, -Errno.ESRCH);
  assert.equal(exc, 1, "the two VIRQs coalesced into one pending bit");
  const virqs = trace.lines.filter((l) => l.includes('"ev":"virq"')).length;
  assert.equal(virqs, 2);
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: g }).ret, -Errno.ESRCH);
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: 0 }).ret,
    -Errno.EINVAL,
    "self",
  );
});

Deno.test("hv: destroy closes the guest's channels; the peer's end becomes unbound", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  const gp = hv.hypercall(g, {
    hc: "event_channel_op",
    op: "alloc_unbound",
    dom: DOMID_SELF,
    remoteDom: 0,
  }).port!;
  const lp = hv.hypercall(0, {
    hc: "event_channel_op",
    op: "bind_interdomain",
    remoteDom: g,
    remotePort: gp,
  }).localPort!;
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: g });
  const st = hv.hypercall(0, { hc: "event_channel_op", op: "status", dom: 0, port: lp }).status!;
  assert.deepEqual(st, { status: 1, vcpu: 0, remoteDom: g });
});

Deno.test("hv: a granter destroyed while its grant is mapped stays a zombie until unmapped", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv);
  hv.hypercall(g, {
    hc: "grant_table_op",
    op: "grant_access",
    ref: 8,
    domid: 0,
    frame: 3,
    readonly: false,
  });
  const m = hv.hypercall(0, {
    hc: "grant_table_op",
    op: "map_grant_ref",
    dom: g,
    ref: 8,
    flags: 2,
  });
  assert.equal(m.status, 0);
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: g });
  sched.run();
  assert.deepEqual(hv.domids(), [0, g], "held by the mapping");
  assert.equal(xlStateString(flagsOf(hv, g)), "-----d");
  const page = hv.grantPage(0, m.handle!)!;
  assert.equal(page.write(0, new Uint8Array([9])), 0, "the backend can still touch the page");
  assert.equal(
    hv.hypercall(0, { hc: "grant_table_op", op: "unmap_grant_ref", handle: m.handle! }).status,
    0,
  );
  sched.run();
  assert.deepEqual(hv.domids(), [0]);
  assert.equal(page.read(0, new Uint8Array(1)), -Errno.EFAULT);
});

Deno.test("hv: getdomaininfo flags — blocked, shutdown code, running", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv);
  hv.attachKernel(g, {});
  assert.equal(hv.hypercall(g, { hc: "sched_op", op: "block" }).ret, 0);
  assert.equal(xlStateString(flagsOf(hv, g)), "-b----");
  hv.hypercall(0, { hc: "sched_op", op: "remote_shutdown", domid: g, reason: SHUTDOWN_poweroff });
  sched.run();
  assert.equal(xlStateString(flagsOf(hv, g)), "---s--", "poweroff letter is '-'");
  assert.equal((flagsOf(hv, g) >>> 16) & 0xff, 0);
});

Deno.test("hv: getdomaininfolist enumerates ascending from firstDomain", () => {
  const { hv } = newHv();
  buildGuest(hv);
  buildGuest(hv);
  const r = hv.hypercall(0, {
    hc: "sysctl",
    op: "getdomaininfolist",
    firstDomain: 1,
    maxDomains: 1,
  });
  assert.deepEqual([r.ret, r.infos!.map((i) => i.domain)], [1, [1]]);
  const all = hv.hypercall(0, {
    hc: "sysctl",
    op: "getdomaininfolist",
    firstDomain: 0,
    maxDomains: 100,
  });
  assert.deepEqual(all.infos!.map((i) => i.domain), [0, 1, 2]);
});

Deno.test("hv: setvcpucontext/getvcpucontext — EINVAL on self and bad vcpu, ENODATA before set", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { config: { maxVcpus: 2 } });
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "getvcpucontext", domid: g, vcpu: 1 }).ret,
    -Errno.ENODATA,
  );
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "getvcpucontext", domid: g, vcpu: 2 }).ret,
    -Errno.EINVAL,
  );
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "setvcpucontext", domid: 0, vcpu: 0, ctx: onlineContext() })
      .ret,
    -Errno.EINVAL,
  );
  const bad = { ...onlineContext(), rip: "x" } as unknown as ReturnType<typeof onlineContext>;
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "setvcpucontext", domid: g, vcpu: 1, ctx: bad }).ret,
    -Errno.EINVAL,
  );
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "setvcpucontext", domid: g, vcpu: 1, ctx: onlineContext() })
      .ret,
    0,
  );
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: g }).info!.nrOnlineVcpus,
    2,
  );
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "setvcpucontext", domid: g, vcpu: 1, ctx: null }).ret,
    0,
  );
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: g }).info!.nrOnlineVcpus,
    1,
  );
});

Deno.test("hv: max_vcpus grows up to VCPUS_MAX and never shrinks", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  const mv = (max: number) => hv.hypercall(0, { hc: "domctl", op: "max_vcpus", domid: g, max }).ret;
  assert.equal(mv(4), 0);
  assert.equal(mv(2), -Errno.EINVAL);
  assert.equal(mv(VCPUS_MAX + 1), -Errno.EINVAL);
  assert.equal(mv(VCPUS_MAX), 0);
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: g }).info!.maxVcpuId,
    VCPUS_MAX - 1,
  );
});

Deno.test("hv: soft_reset closes event channels and resumes the domain", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  hv.hypercall(g, { hc: "event_channel_op", op: "bind_ipi", vcpu: 0 });
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "soft_reset", domid: g }).ret,
    -Errno.EINVAL,
    "not shut down",
  );
  hv.hypercall(g, { hc: "sched_op", op: "shutdown", reason: 5 });
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "soft_reset", domid: g }).ret, 0);
  assert.equal(
    hv.hypercall(0, { hc: "event_channel_op", op: "status", dom: g, port: 1 }).status!.status,
    0,
  );
  assert.equal(xlStateString(flagsOf(hv, g)), "r-----");
});

Deno.test("hv: sendtrigger NMI/POWER/SLEEP reach the kernel; RESET/INIT are -ENOSYS", () => {
  const { hv, sched } = newHv();
  const pv = buildGuest(hv);
  const hvm = buildGuest(hv, { config: { hvm: true } });
  const got: string[] = [];
  hv.attachKernel(hvm, { trigger: (t, v) => got.push(`${t}:${v}`) });
  const st = (domid: number, trigger: number, vcpu = 0) =>
    hv.hypercall(0, { hc: "domctl", op: "sendtrigger", domid, trigger, vcpu }).ret;
  assert.deepEqual([st(hvm, 0), st(hvm, 3), st(hvm, 4), st(hvm, 1), st(hvm, 2)], [
    0,
    0,
    0,
    -Errno.ENOSYS,
    -Errno.ENOSYS,
  ]);
  assert.equal(st(pv, 3), -Errno.EINVAL, "no ACPI buttons on PV");
  assert.equal(st(hvm, 0, 1), -Errno.EINVAL, "no such vCPU");
  sched.run();
  assert.deepEqual(got, ["0:0", "3:0", "4:0"]);
});

Deno.test("hv: traces every hypercall, summarising long arrays", () => {
  const { hv, trace } = newHv();
  const gpfns = Array.from({ length: TRACE_ARRAY_MAX + 1 }, (_, i) => i);
  hv.hypercall(0, { hc: "memory_op", op: "populate_physmap", domid: 0, extentOrder: 0, gpfns });
  const last = JSON.parse(trace.lines.at(-1)!);
  assert.deepEqual(last, {
    t: 0,
    src: "hv",
    dom: 0,
    hc: "memory_op",
    args: {
      op: "populate_physmap",
      domid: 0,
      extentOrder: 0,
      gpfns: { n: 17, first: 0, last: 16 },
    },
    ret: 0,
  });
});

Deno.test("hv: deferred vCPUs hold a shutdown in progress; domainCrash and tripleFault", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv, { config: { hvm: true } });
  assert.equal(hv.deferShutdown(g, 0, true), 1);
  hv.hypercall(0, { hc: "sched_op", op: "remote_shutdown", domid: g, reason: 1 });
  assert.equal(xlStateString(flagsOf(hv, g)), "r-----", "in progress is not 'shutdown'");
  assert.equal(hv.deferShutdown(g, 0, false), 0);
  assert.equal(xlStateString(flagsOf(hv, g)), "---sr-");
  const h = buildGuest(hv, { config: { hvm: true } });
  hv.hypercall(0, { hc: "hvm_op", op: "set_param", domid: h, index: 31, value: 0 });
  assert.equal(hv.tripleFault(h), 0);
  assert.equal(xlStateString(flagsOf(hv, h)), "---s--", "TRIPLE_FAULT_REASON poweroff");
  const p = buildGuest(hv);
  assert.equal(hv.tripleFault(p), -Errno.EINVAL, "PV has no triple fault");
  assert.equal(hv.domainCrash(p), 0);
  assert.equal(xlStateString(flagsOf(hv, p)), "---sc-");
  sched.run();
});
