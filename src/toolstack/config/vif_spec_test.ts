import assert from "node:assert/strict";
import { Rng } from "../../sim/rng.ts";
import { ConfigError } from "./config_error.ts";
import { generateXenMac, normaliseMac, parseVifSpec, VIF_SPEC_LENGTH_MAX } from "./vif_spec.ts";

/** An Rng stand-in returning fixed words. */
const words = (...w: number[]) => ({ u32: () => w.shift()! });

Deno.test("vif: defaults are libxl's — xenbr0, vif-bridge, vif (PV) / vif_ioemu (HVM), Xen OUI MAC", () => {
  assert.deepEqual(parseVifSpec("", 0, "pv", words(0x00ccbbaa)).vif, {
    devid: 0,
    mac: "00:16:3e:2a:bb:cc", // 0xaa & 0x7f = 0x2a
    bridge: "xenbr0",
    script: "vif-bridge",
    type: "vif",
  });
  assert.equal(parseVifSpec("", 2, "hvm", words(0)).vif.type, "vif_ioemu");
  assert.equal(parseVifSpec("", 2, "hvm", words(0)).vif.devid, 2);
});

Deno.test("vif: generated MACs are deterministic for a seed and always in 00:16:3e with bit 7 of byte 3 clear", () => {
  const a = new Rng(42), b = new Rng(42);
  for (let i = 0; i < 200; i++) {
    const mac = generateXenMac(a);
    assert.equal(mac, generateXenMac(b));
    assert.match(mac, /^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/);
  }
});

Deno.test("vif: every modelled key, blanks after commas, MAC normalised", () => {
  const { vif, warnings } = parseVifSpec(
    "mac=00:16:3E:0:1:a2, bridge=xenbr1,script=vif-route, type=ioemu, ip=10.0.0.2 10.0.0.3," +
      " mtu=9000, vifname=web-eth0, devid=5",
    0,
    "hvm",
    words(),
  );
  assert.deepEqual(vif, {
    devid: 5,
    mac: "00:16:3e:00:01:a2",
    bridge: "xenbr1",
    script: "vif-route",
    type: "vif_ioemu",
    ip: "10.0.0.2 10.0.0.3",
    mtu: 9000,
    vifname: "web-eth0",
  });
  assert.deepEqual(warnings, []);
  assert.equal(parseVifSpec("type=vif", 0, "hvm", words(0)).vif.type, "vif");
});

Deno.test("vif: unknown keys are reported and ignored, as xl does", () => {
  const { vif, warnings } = parseVifSpec(
    "model=e1000,rate=10Mb/s,colour=blue,bare",
    0,
    "pv",
    words(1),
  );
  assert.equal(vif.bridge, "xenbr0");
  assert.deepEqual(warnings, [
    'vif: ignoring "model" (not modelled by xenlab)',
    'vif: ignoring "rate" (not modelled by xenlab)',
    'vif: unrecognized argument "colour=blue" ignored',
    'vif: unrecognized argument "bare" ignored',
  ]);
});

Deno.test("vif: bad values of known keys are refused with the line", () => {
  const table: [string, RegExp][] = [
    ["mac=00:16:3e:00:01", /mac: expected six hex octets .* got "00:16:3e:00:01"/],
    ["mac=00:16:3e:00:01:zz", /mac: expected six hex octets/],
    ["type=e1000", /type: expected vif or ioemu, got "e1000"/],
    ["mtu=big", /mtu: expected a number, got "big"/],
    ["mtu=67", /mtu: 67 is outside 68..65535/],
    ["mtu=65536", /mtu: 65536 is outside/],
    ["devid=-1", /devid: expected a number/],
  ];
  for (const [spec, reason] of table) {
    assert.throws(() => parseVifSpec(spec, 0, "pv", words(0), 4), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.line, 4);
      assert.match(e.reason, reason, spec);
      assert.match(e.reason, /in "/);
      return true;
    });
  }
});

Deno.test("vif: MAC helpers and the spec length limit", () => {
  assert.equal(normaliseMac("0-16-3e-a-b-c"), "00:16:3e:0a:0b:0c");
  assert.equal(normaliseMac("00:16:3e:0a:0b"), undefined);
  assert.equal(normaliseMac("000:16:3e:0a:0b:0c"), undefined);
  const long = "ip=" + "1".repeat(VIF_SPEC_LENGTH_MAX);
  assert.throws(() => parseVifSpec(long, 0, "pv", words(0)), /spec is \d+ chars \(limit 4096\)/);
  assert.ok(parseVifSpec(long.slice(0, VIF_SPEC_LENGTH_MAX), 0, "pv", words(0)).vif.ip);
});
