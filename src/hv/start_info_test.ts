import assert from "node:assert/strict";
import {
  decodeStartInfo,
  emptyStartInfo,
  encodeStartInfo,
  MAX_GUEST_CMDLINE,
  SIF_PRIVILEGED,
  START_INFO_BYTES,
  START_INFO_MAGIC,
  startInfoPage,
  startInfoPfn,
} from "./start_info.ts";
import { PAGE_SIZE } from "./xen_abi.ts";

Deno.test("start_info round-trips and lands at Xen's x86_64 offsets", () => {
  const si = {
    ...emptyStartInfo(),
    nrPages: 0x40000,
    sharedInfo: 0x1234 * PAGE_SIZE,
    flags: SIF_PRIVILEGED,
    storeMfn: 0xabcd,
    storeEvtchn: 3,
    consoleMfn: 0xabce,
    consoleEvtchn: 4,
    mfnList: 0xffff8000_0000,
    cmdLine: "root=/dev/xvda1 ro",
    nrP2mFrames: 7,
  };
  const page = startInfoPage(si);
  assert.deepEqual(decodeStartInfo(page), si);
  const dv = new DataView(page.buffer);
  assert.equal(
    new TextDecoder().decode(page.subarray(0, START_INFO_MAGIC.length)),
    "xen-3.0-x86_64",
  );
  assert.equal(dv.getBigUint64(32, true), 0x40000n, "nr_pages");
  assert.equal(dv.getUint32(48, true), SIF_PRIVILEGED, "flags");
  assert.equal(dv.getBigUint64(56, true), 0xabcdn, "store_mfn");
  assert.equal(dv.getUint32(64, true), 3, "store_evtchn");
  assert.equal(dv.getBigUint64(72, true), 0xabcen, "console.domU.mfn");
  assert.equal(dv.getUint32(80, true), 4, "console.domU.evtchn");
  assert.equal(page[128], "r".charCodeAt(0), "cmd_line");
  assert.equal(dv.getBigUint64(1160, true), 7n, "nr_p2m_frames");
  assert.equal(START_INFO_BYTES, 1168);
});

Deno.test("start_info rewrites only its own bytes and refuses an overlong cmdline", () => {
  const page = new Uint8Array(PAGE_SIZE).fill(0x5a);
  encodeStartInfo(emptyStartInfo(), page);
  assert.equal(page[START_INFO_BYTES], 0x5a);
  assert.throws(
    () => encodeStartInfo({ ...emptyStartInfo(), cmdLine: "x".repeat(MAX_GUEST_CMDLINE) }, page),
    /max 1023/,
  );
  assert.throws(() => decodeStartInfo(new Uint8Array(100)), /too small/);
});

Deno.test("start_info is found through RSI at entry", () => {
  assert.equal(startInfoPfn(0x5000), 5);
  assert.equal(startInfoPfn(0x5fff), 5);
});
