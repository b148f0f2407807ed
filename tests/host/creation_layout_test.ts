/**
 * Creation writes exactly the nodes and permissions of
 * lifecycle-and-migration.md §2.2 (libxl__domain_make's transaction, then
 * build_post's) plus console 0 (§2.5): checked node by node on a PV domain
 * created paused, before its guest writes anything.
 */
import assert from "node:assert/strict";
import { Host } from "../../src/host/host.ts";
import { parseXlCfg } from "../../src/toolstack/config/xl_cfg.ts";
import { Rng } from "../../src/sim/rng.ts";
import type { XsClient } from "../../src/xenstore/client/client.ts";
import { formatPermList } from "../../src/xenstore/client/perms.ts";

async function walk(h: Host, xs: XsClient, path: string, out: Map<string, string>): Promise<void> {
  const value = await h.run(xs.readString(path));
  const perms = formatPermList(await h.run(xs.getPerms(path)));
  out.set(path, `${JSON.stringify(value)} ${perms}`);
  for (const c of await h.run(xs.directory(path))) await walk(h, xs, `${path}/${c}`, out);
}

Deno.test("creation: the domain's xenstore nodes and permissions are libxl's (§2.2)", async () => {
  const h = await Host.start({
    seed: 1,
    files: new Map([["/boot/vmlinuz", new Uint8Array(9000)]]),
  });
  const config = parseXlCfg(
    'name = "layout"\nmemory = 16\nvcpus = 2\nkernel = "/boot/vmlinuz"\nroot = "/dev/xvda1"\n',
    new Rng(1),
  ).config;
  const d = await h.run(h.toolstack.create(config, { paused: true }));
  const id = d.domid, uuid = d.uuid;
  const xs = h.dom0Client();
  const got = new Map<string, string>();
  for (const p of [`/local/domain/${id}`, `/vm/${uuid}`, `/libxl/${id}`]) await walk(h, xs, p, got);
  const ro = `n0,r${id}`, rw = `n${id}`, np = "n0";
  const dom = `/local/domain/${id}`, vm = `/vm/${uuid}`;
  const want = new Map<string, string>([
    [dom, `"" ${ro}`],
    [`${dom}/vm`, `"${vm}" ${ro}`],
    [`${dom}/name`, `"layout" ${ro}`],
    [`${dom}/cpu`, `"" ${ro}`],
    [`${dom}/cpu/0`, `"" ${ro}`],
    [`${dom}/cpu/0/availability`, `"online" ${ro}`],
    [`${dom}/cpu/1`, `"" ${ro}`],
    [`${dom}/cpu/1/availability`, `"online" ${ro}`],
    [`${dom}/memory`, `"" ${ro}`],
    [`${dom}/memory/static-max`, `"16384" ${ro}`],
    [`${dom}/memory/target`, `"16384" ${ro}`],
    [`${dom}/memory/videoram`, `"-1" ${ro}`],
    [`${dom}/device`, `"" ${ro}`],
    [`${dom}/device/suspend`, `"" ${ro}`],
    [`${dom}/device/suspend/event-channel`, `"" ${rw}`],
    [`${dom}/control`, `"" ${ro}`],
    [`${dom}/control/shutdown`, `"" ${rw}`],
    [`${dom}/control/feature-poweroff`, `"" ${rw}`],
    [`${dom}/control/feature-reboot`, `"" ${rw}`],
    [`${dom}/control/feature-suspend`, `"" ${rw}`],
    [`${dom}/control/sysrq`, `"" ${rw}`],
    [`${dom}/control/platform-feature-multiprocessor-suspend`, `"1" ${ro}`],
    [`${dom}/control/platform-feature-xs_reset_watches`, `"1" ${ro}`],
    [`${dom}/data`, `"" ${rw}`],
    [`${dom}/drivers`, `"" ${rw}`],
    [`${dom}/feature`, `"" ${rw}`],
    [`${dom}/attr`, `"" ${rw}`],
    [`${dom}/error`, `"" ${rw}`],
    [`${dom}/domid`, `"${id}" ${ro}`],
    [`${dom}/store`, `"" ${ro}`],
    [`${dom}/store/port`, `"${d.created!.storePort}" ${ro}`],
    [`${dom}/store/ring-ref`, `"${d.created!.built.storeFrame}" ${ro}`],
    [vm, `"" ${ro}`],
    [`${vm}/name`, `"layout" ${ro}`],
    [`${vm}/uuid`, `"${uuid}" ${ro}`],
    [`${vm}/image`, `"" ${ro}`],
    [`${vm}/image/ostype`, `"linux" ${ro}`],
    [`${vm}/image/kernel`, `"/boot/vmlinuz" ${ro}`],
    [`${vm}/image/ramdisk`, `"" ${ro}`],
    [`${vm}/image/cmdline`, `"root=/dev/xvda1" ${ro}`],
    [`/libxl/${id}`, `"" ${np}`],
    [`/libxl/${id}/device`, `"" ${np}`],
    [`/libxl/${id}/type`, `"pv" ${np}`],
  ]);
  // Console 0 (§2.5, §8.4) and its /libxl mirror are the devices' part: checked by
  // tests/devices; start_time is a clock value. Compare everything else exactly.
  const ours = new Map(
    [...got].filter(([p]) =>
      !p.startsWith(`${dom}/console`) && !p.startsWith(`/libxl/${id}/device/`) &&
      p !== `${vm}/start_time`
    ),
  );
  assert.deepEqual([...ours].sort(), [...want].sort());
  assert.match(got.get(`${vm}/start_time`)!, /^"\d+\.\d\d" /);
  await h.stop();
});
