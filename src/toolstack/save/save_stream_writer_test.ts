import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import { SaveStreamWriter, type SaveStreamWriterOptions } from "./save_stream_writer.ts";
import { PFINFO } from "./stream_format.ts";
import { encodeVcpuGuestContext } from "./vcpu_guest_context.ts";

function collector(): {
  chunks: Uint8Array[];
  sink: (c: Uint8Array) => void;
  bytes: () => Uint8Array;
} {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    sink: (c) => void chunks.push(c.slice()),
    bytes: () => {
      const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    },
  };
}

const HVM: SaveStreamWriterOptions = { domainType: "hvm", xenVersion: { major: 4, minor: 17 } };
const PV: SaveStreamWriterOptions = { domainType: "pv", xenVersion: { major: 4, minor: 17 } };

Deno.test("a minimal libxc HVM stream is byte-exact: headers, STATIC_DATA_END, one page, context, params, END", async () => {
  const out = collector();
  const w = new SaveStreamWriter(out.sink, HVM);
  await w.libxcBegin();
  await w.cpuidPolicy([]); // empty policies are not written
  await w.msrPolicy([]);
  await w.staticDataEnd();
  await w.pageData([3], PFINFO.NOTAB, new Uint8Array(4096).fill(0x5a));
  await w.hvmContext(new Uint8Array([1, 2, 3, 4]));
  await w.hvmParams([]);
  await w.libxcEnd();
  // deno-fmt-ignore
  const expected = new Uint8Array([
    // image header: marker, "XENF", version 3, options 0, reserved
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x58, 0x45, 0x4e, 0x46, 0, 0, 0, 3,
    0, 0, 0, 0, 0, 0, 0, 0,
    // domain header: HVM, page_shift 12, Xen 4.17
    2, 0, 0, 0, 12, 0, 0, 0,
    4, 0, 0, 0, 17, 0, 0, 0,
    // STATIC_DATA_END (16), length 0
    16, 0, 0, 0, 0, 0, 0, 0,
    // PAGE_DATA (1), length 8 + 8 + 4096 = 4112; count 1; pfn 3 NOTAB; the page
    1, 0, 0, 0, 0x10, 0x10, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0,
    3, 0, 0, 0, 0, 0, 0, 0,
    ...new Uint8Array(4096).fill(0x5a),
    // HVM_CONTEXT (9), length 4, body, 4 bytes of padding
    9, 0, 0, 0, 4, 0, 0, 0,
    1, 2, 3, 4, 0, 0, 0, 0,
    // HVM_PARAMS (10), length 8: count 0, reserved 0
    10, 0, 0, 0, 8, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    // END
    0, 0, 0, 0, 0, 0, 0, 0,
  ]);
  assert.deepEqual(out.bytes(), expected);
  assert.equal(w.bytesWritten, expected.length);
});

Deno.test("an xl stream opens with the xl header, the libxl header and an empty LIBXC_CONTEXT record", async () => {
  const out = collector();
  const w = new SaveStreamWriter(out.sink, { ...HVM, xlConfigJson: "{}" });
  await w.xlHeader();
  await w.libxlHeader();
  await w.libxcBegin();
  await w.flush();
  const b = out.bytes();
  assert.equal(b.length, 48 + 4 + 3 + 16 + 8 + 24 + 16);
  assert.deepEqual([...b.subarray(36, 40)], [3, 0, 0, 0], "JSON | STREAMv2");
  assert.deepEqual(
    [...b.subarray(55, 63)],
    [0x4c, 0x69, 0x62, 0x78, 0x6c, 0x46, 0x6d, 0x74],
    "LibxlFmt",
  );
  assert.deepEqual([...b.subarray(71, 79)], [1, 0, 0, 0, 0, 0, 0, 0], "LIBXC_CONTEXT");
  assert.deepEqual([...b.subarray(79, 87)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
});

Deno.test("page data of a chunk or more reaches the sink as the caller's own bytes (no copy)", async () => {
  const seen: Uint8Array[] = [];
  const w = new SaveStreamWriter((c) => void seen.push(c), { ...HVM, chunkBytes: 4096 });
  await w.libxcBegin();
  await w.staticDataEnd();
  const pages = new Uint8Array(2 * 4096);
  await w.pageData([0, 1], PFINFO.NOTAB, pages);
  assert.ok(seen.includes(pages), "the pages chunk is the caller's Uint8Array");
});

Deno.test("small records are gathered into chunks; checkpoints and END flush", async () => {
  const out = collector();
  const w = new SaveStreamWriter(out.sink, { ...HVM, checkpointed: true });
  await w.libxcBegin();
  await w.staticDataEnd();
  await w.pageData([0], PFINFO.XTAB, new Uint8Array(0));
  assert.equal(out.chunks.length, 0, "nothing sent until a chunk fills or a flush point");
  await w.hvmContext(new Uint8Array(8));
  await w.checkpoint();
  assert.equal(out.chunks.length, 1);
  assert.equal(w.bytesWritten, out.bytes().length);
});

Deno.test("each call waits for an asynchronous sink (back-pressure)", async () => {
  let release!: () => void;
  let pending = 0;
  const w = new SaveStreamWriter(() => {
    pending++;
    return new Promise<void>((r) => release = () => (pending--, r()));
  }, { ...HVM, chunkBytes: 64 });
  await w.libxcBegin();
  let resolved = false;
  const p = w.flush().then(() => resolved = true);
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(resolved, false);
  assert.equal(pending, 1);
  release();
  await p;
  assert.equal(resolved, true);
});

Deno.test("calls out of the saver's order, or that Xen's restorer would refuse, are assertion failures", async () => {
  const fresh = (o: SaveStreamWriterOptions) => new SaveStreamWriter(() => {}, o);
  const cases: [string, SaveStreamWriterOptions, (w: SaveStreamWriter) => Promise<void>][] = [
    ["pageData before STATIC_DATA_END", HVM, async (w) => {
      await w.libxcBegin();
      await w.pageData([0], 0, new Uint8Array(4096));
    }],
    ["pvInfo in HVM", HVM, async (w) => {
      await w.libxcBegin();
      await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
    }],
    ["hvmContext in PV", PV, async (w) => {
      await w.libxcBegin();
      await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
      await w.staticDataEnd();
      await w.hvmContext(new Uint8Array(8));
    }],
    ["PV STATIC_DATA_END without pvInfo", PV, async (w) => {
      await w.libxcBegin();
      await w.staticDataEnd();
    }],
    ["PV PAGE_DATA before P2M_FRAMES", PV, async (w) => {
      await w.libxcBegin();
      await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
      await w.staticDataEnd();
      await w.pageData([0], 0, new Uint8Array(4096));
    }],
    ["PV END without vcpu0", PV, async (w) => {
      await w.libxcBegin();
      await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
      await w.staticDataEnd();
      await w.libxcEnd();
    }],
    ["wrong p2m frame count", PV, async (w) => {
      await w.libxcBegin();
      await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
      await w.staticDataEnd();
      await w.p2mFrames({ startPfn: 0, endPfn: 1023, frames: [1] });
    }],
    ["short vcpu context", PV, async (w) => {
      await w.libxcBegin();
      await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
      await w.staticDataEnd();
      await w.vcpuBasic(0, new Uint8Array(100));
    }],
    ["pages not matching types", HVM, async (w) => {
      await w.libxcBegin();
      await w.staticDataEnd();
      await w.pageData([0, 1], [PFINFO.NOTAB, PFINFO.XTAB], new Uint8Array(8192));
    }],
    ["CHECKPOINT in a plain stream", HVM, async (w) => {
      await w.libxcBegin();
      await w.staticDataEnd();
      await w.hvmContext(new Uint8Array(8));
      await w.checkpoint();
    }],
    ["libxcBegin after xlHeader", HVM, async (w) => {
      await w.xlHeader();
      await w.libxcBegin();
    }],
    ["libxlEnd in a libxc stream", HVM, async (w) => {
      await w.libxcBegin();
      await w.staticDataEnd();
      await w.hvmContext(new Uint8Array(8));
      await w.libxcEnd();
      await w.libxlEnd();
    }],
    ["emulatorContext before libxc END", HVM, async (w) => {
      await w.libxlHeader();
      await w.libxcBegin();
      await w.emulatorContext({ emulatorId: 2, index: 0, blob: new Uint8Array(1) });
    }],
  ];
  for (const [name, opts, run] of cases) {
    await assert.rejects(run(fresh(opts)), AssertionError, name);
  }
  // and the PV happy path for contrast
  const w = fresh(PV);
  await w.libxcBegin();
  await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
  await w.staticDataEnd();
  await w.p2mFrames({ startPfn: 0, endPfn: 1023, frames: [7, 8] });
  await w.vcpuBasic(0, encodeVcpuGuestContext({}));
  await w.libxcEnd();
});
