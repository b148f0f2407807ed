/**
 * @module
 * Tree semantics: the initial tree, WRITE, MKDIR, RM, READ and DIRECTORY
 * (xenstore-protocol.md §2.1–§2.5).
 */
import assert from "node:assert/strict";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  type ConformanceCase,
  dir,
  expectError,
  expectOk,
  getPerms,
  mkdir,
  ok,
  read,
  rm,
  text,
  uniquePath,
  write,
} from "../case.ts";

/** Every byte value once. */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

export const treeCases: ConformanceCase[] = [
  {
    name: "a fresh daemon holds exactly /, /tool and /tool/xenstored, empty and owned by dom0",
    needs: { fresh: true },
    async run(t) {
      const d0 = await t.dom0();
      assert.deepEqual(await dir(d0, "/"), ["tool"]);
      assert.deepEqual(await dir(d0, "/tool"), ["xenstored"]);
      assert.deepEqual(await dir(d0, "/tool/xenstored"), []);
      for (const p of ["/", "/tool", "/tool/xenstored"]) {
        assert.equal(await read(d0, p), "");
        assert.deepEqual(await getPerms(d0, p), ["n0"]);
      }
      for (const p of ["/local", "/local/domain/0", "/vm", "/libxl"]) {
        await expectError(d0.req(Op.READ, [p]), "ENOENT", p);
      }
    },
  },
  {
    name: "WRITE creates missing ancestors with empty values",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a/b/c`, "leaf");
      assert.equal(await read(d0, `${p}/a/b/c`), "leaf");
      assert.equal(await read(d0, `${p}/a/b`), "");
      assert.equal(await read(d0, `${p}/a`), "");
      assert.deepEqual(await dir(d0, `${p}/a`), ["b"]);
    },
  },
  {
    name: "WRITE replaces a value and READ returns the exact bytes without a terminator",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "first");
      await write(d0, p, "2");
      const r = await ok(d0.req(Op.READ, [p]), Op.READ);
      assert.deepEqual([...r.payload], [0x32]);
      await write(d0, p, "");
      assert.equal((await ok(d0.req(Op.READ, [p]))).payload.length, 0);
    },
  },
  {
    name: "values may hold any byte, NUL and bytes above 0x7f included",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, ALL_BYTES);
      const r = await ok(d0.req(Op.READ, [p]), Op.READ);
      assert.deepEqual([...r.payload], [...ALL_BYTES]);
    },
  },
  {
    name: "a node keeps its children when its value is rewritten",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/kid`, "k");
      await write(d0, p, "parent value");
      assert.deepEqual(await dir(d0, p), ["kid"]);
      assert.equal(await read(d0, p), "parent value");
    },
  },
  {
    name: "WRITE / succeeds and sets the root's value",
    needs: { fresh: true },
    async run(t) {
      const d0 = await t.dom0();
      await write(d0, "/", "root");
      assert.equal(await read(d0, "/"), "root");
      assert.deepEqual(await dir(d0, "/"), ["tool"]);
    },
  },
  {
    name: "MKDIR creates an empty node and its missing ancestors",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await mkdir(d0, `${p}/x/y`);
      assert.equal(await read(d0, `${p}/x/y`), "");
      assert.deepEqual(await dir(d0, `${p}/x`), ["y"]);
      assert.deepEqual(await dir(d0, `${p}/x/y`), []);
    },
  },
  {
    name: "MKDIR of an existing node succeeds and keeps its value and children",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/kid`, "k");
      await write(d0, p, "keep");
      await mkdir(d0, p);
      assert.equal(await read(d0, p), "keep");
      assert.deepEqual(await dir(d0, p), ["kid"]);
      await mkdir(d0, "/");
    },
  },
  {
    name: "RM removes a node with its whole subtree",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a/b/c`, "1");
      await write(d0, `${p}/a/d`, "2");
      await write(d0, `${p}/e`, "3");
      await rm(d0, `${p}/a`);
      for (const gone of [`${p}/a`, `${p}/a/b`, `${p}/a/b/c`, `${p}/a/d`]) {
        await expectError(d0.req(Op.READ, [gone]), "ENOENT", gone);
      }
      assert.deepEqual(await dir(d0, p), ["e"]);
    },
  },
  {
    name: "RM / is EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      await expectError(d0.req(Op.RM, ["/"]), "EINVAL");
      assert.deepEqual((await dir(d0, "/")).includes("tool"), true);
    },
  },
  {
    name: "RM of a missing node whose parent exists succeeds",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await rm(d0, `${p}/missing`);
      assert.deepEqual(await dir(d0, p), []);
    },
  },
  {
    name: "RM of a missing node whose parent is missing too is ENOENT",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await expectError(d0.req(Op.RM, [`${p}/missing/child`]), "ENOENT");
      await expectError(d0.req(Op.RM, [`${p}/a/b/c`]), "ENOENT");
    },
  },
  {
    name: "READ, DIRECTORY and GET_PERMS of a missing node are ENOENT",
    async run(t) {
      const d0 = await t.dom0();
      const p = `${uniquePath()}/missing`;
      for (const op of [Op.READ, Op.DIRECTORY, Op.GET_PERMS]) {
        await expectError(d0.req(op, [p]), "ENOENT", `op ${op}`);
      }
    },
  },
  {
    name: "DIRECTORY lists children in insertion order; removal keeps the others' order",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      for (const c of ["zeta", "alpha", "mid", "Beta", "9"]) await write(d0, `${p}/${c}`, "");
      assert.deepEqual(await dir(d0, p), ["zeta", "alpha", "mid", "Beta", "9"]);
      await rm(d0, `${p}/alpha`);
      assert.deepEqual(await dir(d0, p), ["zeta", "mid", "Beta", "9"]);
      await write(d0, `${p}/alpha`, "");
      await write(d0, `${p}/zeta`, "rewritten");
      assert.deepEqual(await dir(d0, p), ["zeta", "mid", "Beta", "9", "alpha"]);
    },
  },
  {
    name: "DIRECTORY of a node without children is an empty payload",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "value");
      const r = await ok(d0.req(Op.DIRECTORY, [p]), Op.DIRECTORY);
      assert.equal(r.payload.length, 0);
    },
  },
  {
    name: "READ of a node with children returns only its own value",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a`, "child");
      assert.equal(await read(d0, p), "");
    },
  },
  {
    name: "DIRECTORY whose reply would exceed 4096 bytes is E2BIG; exactly 4096 fits",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      // 64 names of 63 characters: 64 × 64 = 4096 bytes with their NULs.
      for (let i = 0; i < 64; i++) {
        await write(d0, `${p}/${String(i).padStart(2, "0")}${"n".repeat(61)}`, "");
      }
      const r = await ok(d0.req(Op.DIRECTORY, [p]), Op.DIRECTORY);
      assert.equal(r.payload.length, 4096);
      await write(d0, `${p}/x`, "");
      await expectError(d0.req(Op.DIRECTORY, [p]), "E2BIG");
      await rm(d0, `${p}/x`);
      assert.equal((await ok(d0.req(Op.DIRECTORY, [p]))).payload.length, 4096);
    },
  },
  {
    name: "a WRITE of an empty value creates an empty node",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await expectOk(d0.req(Op.WRITE, [p, ""]), Op.WRITE);
      assert.equal(text(await ok(d0.req(Op.READ, [p]))), "");
    },
  },
];
