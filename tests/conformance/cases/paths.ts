/**
 * @module
 * Path validation and relative paths (xenstore-protocol.md §1.6).
 */
import assert from "node:assert/strict";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  type ConformanceCase,
  dir,
  expectError,
  guestWithHome,
  mkdir,
  read,
  uniquePath,
  write,
} from "../case.ts";

/** The C daemon's path length limit (`-M`, default and maximum 2048). */
const PATH_MAX = 2048;

export const pathCases: ConformanceCase[] = [
  {
    name: "letters, digits, '-', '_', '@' and '/' are valid path characters",
    async run(t) {
      const d0 = await t.dom0();
      const p = `${uniquePath()}/AZaz09-_@/x@y`;
      await write(d0, p, "v");
      assert.equal(await read(d0, p), "v");
    },
  },
  {
    name: "any other character makes a path EINVAL, for reads and writes",
    async run(t) {
      const d0 = await t.dom0();
      const base = uniquePath();
      for (const ch of [".", " ", ":", "*", "+", "~", "\t", "\\", "é", "%", "=", ","]) {
        const p = `${base}/a${ch}b`;
        await expectError(d0.req(Op.WRITE, [p, "x"]), "EINVAL");
        await expectError(d0.req(Op.MKDIR, [p]), "EINVAL");
        await expectError(d0.req(Op.READ, [p]), "EINVAL");
      }
    },
  },
  {
    name: "a byte above 0x7f in a path is EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      const p = new TextEncoder().encode(`${uniquePath()}/a_b`);
      p[p.length - 2] = 0xff;
      await expectError(d0.req(Op.WRITE, [p, "x"]), "EINVAL");
    },
  },
  {
    name: "'//', a trailing '/' and the empty path are EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      const base = uniquePath();
      await write(d0, `${base}/a`, "");
      for (const p of [`${base}//a`, `${base}/a/`, `${base}/`, "", "//"]) {
        await expectError(d0.req(Op.WRITE, [p, "x"]), "EINVAL");
        await expectError(d0.req(Op.READ, [p]), "EINVAL");
        await expectError(d0.req(Op.DIRECTORY, [p]), "EINVAL");
      }
    },
  },
  {
    name: "relative paths of a dom0 socket connection resolve under /local/domain/0",
    async run(t) {
      const d0 = await t.dom0();
      const rel = uniquePath().slice(1);
      await write(d0, `${rel}/x`, "rel");
      assert.equal(await read(d0, `/local/domain/0/${rel}/x`), "rel");
      assert.deepEqual(await dir(d0, rel), ["x"]);
    },
  },
  {
    name: "relative paths of a guest resolve under its home /local/domain/<domid>",
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      await write(g, "sub/x", "mine");
      assert.equal(await read(d0, `${home}/sub/x`), "mine");
      assert.equal(await read(g, `${home}/sub/x`), "mine");
    },
  },
  {
    name: "an empty relative path is EINVAL (it would end in '/')",
    async run(t) {
      const d0 = await t.dom0();
      await expectError(d0.req(Op.READ, [""]), "EINVAL");
      await expectError(d0.req(Op.WRITE, ["", "x"]), "EINVAL");
    },
  },
  {
    name: "a path of 2048 bytes is accepted and one of 2049 is EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      const base = `${uniquePath()}/`;
      const ok = base + "p".repeat(PATH_MAX - base.length);
      assert.equal(ok.length, PATH_MAX);
      await write(d0, ok, "x");
      assert.equal(await read(d0, ok), "x");
      await expectError(d0.req(Op.WRITE, [ok + "q", "x"]), "EINVAL");
      await expectError(d0.req(Op.READ, [ok + "q"]), "EINVAL");
    },
  },
  {
    name: "below /local/domain/<N>/ only the part after that prefix counts towards 2048",
    async run(t) {
      const d0 = await t.dom0();
      const prefix = `/local/domain/${7}/`;
      const rel = `${uniquePath().slice(1)}/`;
      const ok = prefix + rel + "p".repeat(PATH_MAX - rel.length);
      assert.equal(ok.length - prefix.length, PATH_MAX);
      await write(d0, ok, "x");
      assert.equal(await read(d0, ok), "x");
      await expectError(d0.req(Op.WRITE, [ok + "q", "x"]), "EINVAL");
    },
  },
  {
    name: "a relative path is measured after it is made absolute",
    async run(t) {
      const d0 = await t.dom0();
      const rel = `${uniquePath().slice(1)}/`;
      const ok = rel + "p".repeat(PATH_MAX - rel.length);
      await write(d0, ok, "x");
      await expectError(d0.req(Op.WRITE, [ok + "q", "x"]), "EINVAL");
    },
  },
  {
    name: "node operations on '@' paths are EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      for (const p of ["@introduceDomain", "@releaseDomain", "@other"]) {
        await expectError(d0.req(Op.READ, [p]), "EINVAL");
        await expectError(d0.req(Op.WRITE, [p, "x"]), "EINVAL");
        await expectError(d0.req(Op.MKDIR, [p]), "EINVAL");
        await expectError(d0.req(Op.RM, [p]), "EINVAL");
        await expectError(d0.req(Op.DIRECTORY, [p]), "EINVAL");
        await expectError(d0.req(Op.GET_PERMS, [p]), "EINVAL");
      }
    },
  },
  {
    name: "'@' inside a path is an ordinary character",
    async run(t) {
      const d0 = await t.dom0();
      const p = `${uniquePath()}/@x`;
      await mkdir(d0, p);
      assert.equal(await read(d0, p), "");
    },
  },
];
