/**
 * @module
 * DIRECTORY_PART chunking, terminator and generation
 * (xenstore-protocol.md §2.6). Generation numbers are compared, never
 * predicted: the C daemon takes them from a global modification counter.
 */
import assert from "node:assert/strict";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  type ConformanceCase,
  expectError,
  guestWithHome,
  ok,
  own,
  setPerms,
  text,
  txStart,
  uniquePath,
  write,
} from "../case.ts";
import type { RawConn } from "../target.ts";

/** One DIRECTORY_PART reply split into generation and the bytes after it. */
async function part(
  c: RawConn,
  path: string,
  offset: string | number,
  txId = 0,
): Promise<{ gen: string; body: string; size: number }> {
  const r = await ok(c.req(Op.DIRECTORY_PART, [path, String(offset)], { txId }));
  assert.equal(r.type, Op.DIRECTORY_PART);
  const s = text(r);
  const nul = s.indexOf("\0");
  assert.ok(nul > 0, "reply starts with <gen>\\0");
  assert.match(s.slice(0, nul), /^\d+$/);
  return { gen: s.slice(0, nul), body: s.slice(nul + 1), size: r.payload.length };
}

async function gen(c: RawConn, path: string): Promise<string> {
  return (await part(c, path, 0)).gen;
}

export const directoryPartCases: ConformanceCase[] = [
  {
    name: "DIRECTORY_PART of a small directory is <gen>\\0, every name\\0 and one more \\0",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      for (const c of ["b", "a", "ccc"]) await write(d0, `${p}/${c}`, "");
      assert.equal((await part(d0, p, 0)).body, "b\0a\0ccc\0\0");
    },
  },
  {
    name: "DIRECTORY_PART of a node without children is <gen>\\0\\0",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "leaf");
      const r = await part(d0, p, 0);
      assert.equal(r.body, "\0");
    },
  },
  {
    name: "DIRECTORY_PART at or past the end of the list gives <gen>\\0\\0",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      for (const c of ["bb", "c"]) await write(d0, `${p}/${c}`, "");
      for (const off of [5, 6, 100, 4096, -1]) {
        assert.equal((await part(d0, p, off)).body, "\0", `offset ${off}`);
      }
    },
  },
  {
    name: "DIRECTORY_PART parses its offset with atoi: garbage is 0, digits are read up to junk",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      for (const c of ["bb", "c"]) await write(d0, `${p}/${c}`, "");
      assert.equal((await part(d0, p, "abc")).body, "bb\0c\0\0");
      assert.equal((await part(d0, p, "")).body, "bb\0c\0\0");
      assert.equal((await part(d0, p, "3xyz")).body, "c\0\0");
    },
  },
  {
    name: "an offset inside a name starts the chunk at that byte",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      for (const c of ["bb", "c"]) await write(d0, `${p}/${c}`, "");
      assert.equal((await part(d0, p, 1)).body, "b\0c\0\0");
      assert.equal((await part(d0, p, 2)).body, "\0c\0\0");
    },
  },
  {
    name:
      "a long list is split at whole names fitting 4096 − len(<gen>\\0) − 1 bytes; chunks add up to it",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      const names: string[] = [];
      for (let i = 0; i < 70; i++) names.push(`${String(i).padStart(2, "0")}${"n".repeat(61)}`);
      for (let i = 0; i < 10; i++) names.push(`s${i}`);
      for (const n of names) await write(d0, `${p}/${n}`, "");
      await expectError(d0.req(Op.DIRECTORY, [p]), "E2BIG");
      const first = await part(d0, p, 0);
      assert.ok(first.size <= 4096);
      // Names are 64 bytes with their NUL: as many as fit, not one more.
      const room = 4096 - (first.gen.length + 1) - 1;
      assert.equal(first.body.length, Math.floor(room / 64) * 64);
      assert.ok(!first.body.endsWith("\0\0"), "a non-final chunk has no extra NUL");
      const second = await part(d0, p, first.body.length);
      assert.equal(second.gen, first.gen);
      assert.ok(second.body.endsWith("\0\0"), "the final chunk ends in \\0\\0");
      assert.equal(first.body + second.body, names.map((n) => `${n}\0`).join("") + "\0");
    },
  },
  {
    name: "the generation changes with a child added or removed, a value written or perms set",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a`, "");
      let g = await gen(d0, p);
      const changes: [string, () => Promise<unknown>][] = [
        ["child added", () => write(d0, `${p}/b`, "")],
        ["value written", () => write(d0, p, "v")],
        ["same value rewritten", () => write(d0, p, "v")],
        ["perms set", () => setPerms(d0, p, ["n0", "r1"])],
        ["child removed", () => d0.req(Op.RM, [`${p}/b`])],
      ];
      for (const [what, change] of changes) {
        await change();
        const next = await gen(d0, p);
        assert.notEqual(next, g, what);
        g = next;
      }
    },
  },
  {
    name: "the generation is unchanged by reads and by changes below a child",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a/x`, "");
      const g = await gen(d0, p);
      await d0.req(Op.READ, [p]);
      await d0.req(Op.DIRECTORY, [p]);
      await write(d0, `${p}/a`, "child value");
      await write(d0, `${p}/a/y`, "grandchild");
      await d0.req(Op.RM, [`${p}/a/x`]);
      assert.equal(await gen(d0, p), g);
    },
  },
  {
    name: "DIRECTORY_PART needs exactly two strings: EINVAL otherwise",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await expectError(d0.req(Op.DIRECTORY_PART, [p]), "EINVAL");
      await expectError(d0.req(Op.DIRECTORY_PART, [p, "0", "0"]), "EINVAL");
      await expectError(
        d0.req(Op.DIRECTORY_PART, { raw: new TextEncoder().encode(`${p}\x000`) }),
        "EINVAL",
      );
    },
  },
  {
    name: "DIRECTORY_PART of a missing node is ENOENT",
    async run(t) {
      const d0 = await t.dom0();
      await expectError(d0.req(Op.DIRECTORY_PART, [`${uniquePath()}/x`, "0"]), "ENOENT");
    },
  },
  {
    name: "DIRECTORY_PART needs read permission",
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      await own(d0, `${home}/secret`, 0);
      await write(d0, `${home}/secret/x`, "");
      await expectError(g.req(Op.DIRECTORY_PART, [`${home}/secret`, "0"]), "EACCES");
      assert.equal((await part(g, home, 0)).body, "secret\0\0");
    },
  },
  {
    name: "inside a transaction DIRECTORY_PART sees the transaction's children and generation",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a`, "");
      const outside = await gen(d0, p);
      const tx = await txStart(d0);
      assert.equal((await part(d0, p, 0, tx)).gen, outside);
      await write(d0, `${p}/b`, "", tx);
      const inside = await part(d0, p, 0, tx);
      assert.equal(inside.body, "a\0b\0\0");
      assert.notEqual(inside.gen, outside);
      assert.deepEqual(await part(d0, p, 0), {
        gen: outside,
        body: "a\0\0",
        size: outside.length + 4,
      });
      await ok(d0.req(Op.TRANSACTION_END, ["F"], { txId: tx }));
    },
  },
];
