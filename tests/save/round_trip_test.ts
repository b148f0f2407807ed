/**
 * Writer → reader round trips of PV and HVM images in all three formats,
 * with the reader fed the whole image, one byte at a time, and at random
 * split points (seeded; a failure prints the seed). Every page, vCPU
 * context, HVM context and param, config and emulator blob must come back,
 * and the records must be the same whatever the chunking.
 */
import assert from "node:assert/strict";
import { Rng } from "../../src/sim/rng.ts";
import {
  PFINFO,
  readSaveImage,
  type SaveImage,
  SaveImageReader,
  type SaveRecord,
  XC_PAGE_SIZE,
} from "../../src/toolstack/save/mod.ts";
import { buildImage, type BuiltImage, type ImageSpec } from "./images.ts";

interface ReadBack {
  image: SaveImage;
  memory: Uint8Array;
  types: Uint8Array;
  records: string[];
}

/** Reads `img` in chunks cut by `cut(remaining)`, collecting pages into memory. */
function readBack(img: BuiltImage, spec: ImageSpec, cut: (left: number) => number): ReadBack {
  const memory = new Uint8Array(spec.pages * XC_PAGE_SIZE);
  const types = new Uint8Array(spec.pages).fill(0xff);
  const reader = new SaveImageReader({
    format: spec.format,
    checkpointed: (spec.checkpoints ?? 0) > 0,
    pageSink: (pfn, type, page) => {
      types[pfn] = type;
      if (page) memory.set(page, pfn * XC_PAGE_SIZE);
    },
  });
  const records: SaveRecord[] = [];
  let at = 0;
  while (at < img.bytes.length) {
    const n = Math.max(1, Math.min(cut(img.bytes.length - at), img.bytes.length - at));
    const r = reader.push(img.bytes.subarray(at, at + n));
    if (!r.ok) throw r.error;
    records.push(...r.records);
    assert.equal(r.consumed, n);
    at += n;
  }
  const f = reader.finish();
  if (!f.ok) throw f.error;
  return {
    image: f.image,
    memory,
    types,
    records: records.map((r) => `${r.layer}:${r.kind}@${r.offset}`),
  };
}

function checkImage(img: BuiltImage, spec: ImageSpec, got: ReadBack): void {
  const { image } = got;
  assert.equal(image.bytes, img.bytes.length);
  assert.equal(image.domainType, spec.domainType);
  assert.deepEqual(image.xenVersion, { major: 4, minor: 17 });
  assert.equal(image.streamVersion, 3);
  assert.equal(image.checkpoints, img.checkpoints);
  assert.deepEqual(image.cpuidPolicy, img.cpuid);
  assert.deepEqual(image.msrPolicy, img.msr);
  assert.equal(image.xl?.config?.text, img.config);
  assert.equal(image.xl?.config?.format, img.config === undefined ? undefined : "json");
  assert.ok(
    got.memory.every((v, i) => v === img.memory[i]),
    "guest memory comes back byte for byte",
  );
  for (let p = 0; p < spec.pages; p++) {
    assert.equal(got.types[p], img.types[p], `type of pfn ${p}`);
  }
  if (spec.domainType === "pv") {
    assert.deepEqual(image.pvInfo, { guestWidth: 8, ptLevels: 4 });
    assert.equal(image.p2m?.endPfn, spec.pages - 1);
    assert.deepEqual(image.sharedInfo, img.sharedInfo);
    assert.equal(image.vcpus.size, spec.vcpus ?? 2);
    img.vcpuBasic.forEach((b, v) => {
      assert.deepEqual(image.vcpus.get(v)?.basic, b);
      assert.equal(image.vcpus.get(v)?.extended?.length, 128);
      assert.equal(image.vcpus.get(v)?.xsave?.length, 832);
      assert.equal(image.vcpus.get(v)?.msrs?.length, 32);
    });
  } else {
    assert.deepEqual(image.hvmContext, img.hvmContext);
    assert.deepEqual(image.hvmParams, img.hvmParams);
    if (spec.format !== "libxc") {
      assert.deepEqual(image.emulatorContexts, [{
        emulatorId: 2,
        index: 0,
        blob: img.emulatorBlob,
      }]);
      assert.deepEqual(image.emulatorXenstoreData.flatMap((d) => d.pairs), img.xenstorePairs);
    }
  }
}

const SPECS: ImageSpec[] = [
  { seed: 11, domainType: "pv", format: "xl", pages: 2100, vcpus: 3 },
  { seed: 12, domainType: "hvm", format: "xl", pages: 2100, xenstoreData: true },
  { seed: 13, domainType: "pv", format: "libxl", pages: 1500 },
  { seed: 14, domainType: "hvm", format: "libxl", pages: 1500 },
  { seed: 15, domainType: "pv", format: "libxc", pages: 1100 },
  { seed: 16, domainType: "hvm", format: "libxc", pages: 1100 },
  { seed: 17, domainType: "hvm", format: "libxl", pages: 600, checkpoints: 3, xenstoreData: true },
  { seed: 18, domainType: "pv", format: "xl", pages: 600, checkpoints: 2 },
  { seed: 19, domainType: "pv", format: "libxc", pages: 600, checkpoints: 2 },
];

for (const spec of SPECS) {
  const name = `${spec.domainType.toUpperCase()} ${spec.format}${
    spec.checkpoints ? ` with ${spec.checkpoints} checkpoints` : ""
  }`;

  Deno.test(`round trip: ${name} image read whole and at random splits gives back every byte (seed ${spec.seed})`, async () => {
    const img = await buildImage(spec);
    const whole = readBack(img, spec, (left) => left);
    checkImage(img, spec, whole);
    const rng = new Rng(spec.seed).fork("splits");
    for (let round = 0; round < 3; round++) {
      const split = readBack(img, spec, () => rng.range(1, rng.chance(1, 2) ? 64 : 20_000));
      checkImage(img, spec, split);
      assert.deepEqual(split.records, whole.records, `records with random splits, round ${round}`);
    }
  });
}

for (
  const spec of [
    { seed: 21, domainType: "pv", format: "xl", pages: 1100 },
    { seed: 22, domainType: "hvm", format: "xl", pages: 40, xenstoreData: true },
    { seed: 23, domainType: "hvm", format: "libxl", pages: 24, checkpoints: 2 },
  ] satisfies ImageSpec[]
) {
  Deno.test(`round trip: ${spec.domainType.toUpperCase()} ${spec.format} image fed one byte at a time (seed ${spec.seed})`, async () => {
    const img = await buildImage(spec);
    const whole = readBack(img, spec, (left) => left);
    const bytewise = readBack(img, spec, () => 1);
    checkImage(img, spec, bytewise);
    assert.deepEqual(bytewise.records, whole.records);
  });
}

Deno.test("round trip through a file: readSaveImage over a file's readable stream", async () => {
  const spec: ImageSpec = { seed: 31, domainType: "hvm", format: "xl", pages: 300 };
  const img = await buildImage(spec);
  const path = await Deno.makeTempFile({ prefix: "xenlab-save-" });
  try {
    await Deno.writeFile(path, img.bytes);
    const memory = new Uint8Array(spec.pages * XC_PAGE_SIZE);
    using file = await Deno.open(path);
    const image = await readSaveImage(file.readable, {
      format: "xl",
      pageSink: (pfn, _t, page) => page && memory.set(page, pfn * XC_PAGE_SIZE),
    });
    assert.equal(image.dataPages, spec.pages);
    assert.deepEqual(memory, img.memory);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("PV page types survive: pinned L4, L1–L3 tables, and XTAB/XALLOC/BROKEN without data", async () => {
  const spec: ImageSpec = { seed: 41, domainType: "pv", format: "libxc", pages: 300 };
  const img = await buildImage(spec);
  const got = readBack(img, spec, (left) => left);
  assert.equal(got.types[1], PFINFO.L4TAB_PIN);
  assert.equal(got.types[8], PFINFO.L1TAB);
  assert.equal(got.types[spec.pages - 2], PFINFO.XALLOC);
  assert.equal(got.types[spec.pages - 3], PFINFO.BROKEN);
  const noData = [...img.types].filter((t) => t >= PFINFO.BROKEN).length;
  assert.equal(got.image.pfnEntries - got.image.dataPages, noData);
});
