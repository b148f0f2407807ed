import assert from "node:assert/strict";
import { parseXlCfg } from "../config/xl_cfg.ts";
import { Rng } from "../../sim/rng.ts";
import { ConfigJsonError, domainConfigJson, parseDomainConfigJson } from "./config_json.ts";

const CFG = `name = "web"
type = "hvm"
memory = 64
maxmem = 128
vcpus = 2
maxvcpus = 4
uuid = "6c8f1b4e-2f0c-4d3a-9a55-3c5e2d1b0a99"
boot = "dc"
firmware = "seabios"
disk = [ "/img/a.img,raw,xvda,w", "/img/cd.iso,raw,hdc,cdrom,r" ]
vif = [ "bridge=xenbr0,mac=00:16:3e:01:02:03,ip=10.0.0.2", "bridge=xenbr1,type=ioemu" ]
on_crash = "preserve"
xenlab_guest = "profile=slow-ack,pv_drivers=0"
`;

Deno.test("config JSON: what xl stores in the save image reads back as the same config", () => {
  const c = parseXlCfg(CFG, new Rng(1)).config;
  const json = domainConfigJson(c);
  const back = parseDomainConfigJson(json);
  assert.deepEqual(back, c);
  const o = JSON.parse(json);
  assert.equal(o.c_info.name, "web");
  assert.equal(o.b_info.max_memkb, 128 * 1024);
  assert.equal(o.disks[1].is_cdrom, 1);
  assert.equal(o.nics[0].mac, "00:16:3e:01:02:03");
});

Deno.test("config JSON: a config that does not say what the domain is, is refused by name", () => {
  const good = JSON.parse(domainConfigJson(parseXlCfg(CFG, new Rng(1)).config));
  const cases: [string, string, RegExp][] = [
    ["not JSON", "{{", /not JSON/],
    ["not an object", "[1]", /config is not an object/],
    ["no c_info", JSON.stringify({ ...good, c_info: undefined }), /c_info is not an object/],
    [
      "a bad type",
      JSON.stringify({ ...good, c_info: { ...good.c_info, type: "kvm" } }),
      /c_info\.type "kvm"/,
    ],
    [
      "memory not a number",
      JSON.stringify({ ...good, b_info: { ...good.b_info, target_memkb: "lots" } }),
      /target_memkb/,
    ],
    [
      "a disk without a path",
      JSON.stringify({ ...good, disks: [{ ...good.disks[0], pdev_path: 7 }] }),
      /disks\[0\]\.pdev_path/,
    ],
    ["a bad action", JSON.stringify({ ...good, on_crash: "explode" }), /on_crash "explode"/],
  ];
  for (const [what, text, re] of cases) {
    assert.throws(
      () => parseDomainConfigJson(text),
      (e) => e instanceof ConfigJsonError && re.test(e.message),
      what,
    );
  }
});
