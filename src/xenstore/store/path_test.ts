/**
 * @module
 * Tests for node paths (xenstore-protocol.md §1.6, §4.1): relative
 * expansion, the character and slash rules, cxenstored 4.17's length rule
 * (2048 bytes after a `/local/domain/<1-5 digits>/` prefix, else 2048 in
 * total; checked against the real daemon), special `@` watch paths, and the
 * helpers the tree and watch index are built on.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  baseName,
  canonicalize,
  canonicalizeWatch,
  childPath,
  domainPath,
  isAtOrAbove,
  isSpecialPath,
  isValidPath,
  parentOf,
  XENSTORE_ABS_PATH_MAX,
  XENSTORE_REL_PATH_MAX,
} from "./path.ts";
import { XsError } from "../wire/errno.ts";

const SEED = 0x5eed_0004;

function canon(path: string, domid: number, pathMax?: number): string {
  try {
    return canonicalize(path, domid, pathMax);
  } catch (e) {
    if (e instanceof XsError) return e.errno;
    throw e;
  }
}

function canonWatch(path: string, domid: number): string {
  try {
    return canonicalizeWatch(path, domid);
  } catch (e) {
    if (e instanceof XsError) return e.errno;
    throw e;
  }
}

Deno.test("path: the limits are those of xs_wire.h", () => {
  assert.equal(XENSTORE_REL_PATH_MAX, 2048);
  assert.equal(XENSTORE_ABS_PATH_MAX, 3072);
});

/** [path as sent, connection domid, canonical path or errno]. */
const CANON: [string, number, string][] = [
  ["/", 0, "/"],
  ["/tool/xenstored", 0, "/tool/xenstored"],
  ["/A-z_0-9/@at", 3, "/A-z_0-9/@at"],
  ["data/x", 7, "/local/domain/7/data/x"],
  ["data", 0, "/local/domain/0/data"],
  ["", 7, "EINVAL"],
  ["/tool/", 0, "EINVAL"],
  ["/a//b", 0, "EINVAL"],
  ["//", 0, "EINVAL"],
  ["/a.b", 0, "EINVAL"],
  ["/a b", 0, "EINVAL"],
  ["/a:b", 0, "EINVAL"],
  ["/a\tb", 0, "EINVAL"],
  ["/\xe9", 0, "EINVAL"],
  ["a/", 7, "EINVAL"],
  ["a//b", 7, "EINVAL"],
  ["@releaseDomain", 0, "EINVAL"],
  ["@introduceDomain", 5, "EINVAL"],
];
for (const [path, domid, want] of CANON) {
  Deno.test(`path: canonicalize(${JSON.stringify(path)}, dom${domid}) is ${want}`, () => {
    assert.equal(canon(path, domid), want);
  });
}

Deno.test("path: 2048 bytes in total are fine, 2049 are EINVAL", () => {
  const ok = "/" + "a".repeat(XENSTORE_REL_PATH_MAX - 1);
  assert.equal(ok.length, XENSTORE_REL_PATH_MAX);
  assert.equal(canon(ok, 0), ok);
  assert.equal(canon(ok + "a", 0), "EINVAL");
});

Deno.test("path: after /local/domain/<N>/ only the rest counts, up to 2048", () => {
  for (const n of ["7", "12345", "0"]) {
    const prefix = `/local/domain/${n}/`;
    const ok = prefix + "a".repeat(XENSTORE_REL_PATH_MAX);
    assert.equal(canon(ok, 0), ok, `domain ${n}`);
    assert.equal(canon(ok + "a", 0), "EINVAL", `domain ${n}`);
  }
});

Deno.test("path: a 6-digit domid is no prefix, so the whole path counts", () => {
  const p = "/local/domain/123456/" + "a".repeat(2030);
  assert.ok(p.length > XENSTORE_REL_PATH_MAX);
  assert.equal(canon(p, 0), "EINVAL");
});

Deno.test("path: a relative path may use the whole 2048 after its home prefix", () => {
  const rel = "a".repeat(XENSTORE_REL_PATH_MAX);
  assert.equal(canon(rel, 7), `/local/domain/7/${rel}`);
  assert.equal(canon(rel + "a", 7), "EINVAL");
});

Deno.test("path: the path-max quota is a parameter", () => {
  assert.equal(canon("/abcd", 0, 5), "/abcd");
  assert.equal(canon("/abcde", 0, 5), "EINVAL");
  assert.equal(canon("x".repeat(5), 3, 5), "/local/domain/3/xxxxx");
  assert.equal(canon("x".repeat(6), 3, 5), "EINVAL");
});

Deno.test("path: isValidPath agrees with the rules on absolute paths", () => {
  assert.ok(isValidPath("/"));
  assert.ok(isValidPath("/a/b-c_D/9"));
  assert.ok(!isValidPath(""));
  assert.ok(!isValidPath("a"));
  assert.ok(!isValidPath("/a/"));
  assert.ok(!isValidPath("/a//b"));
  assert.ok(!isValidPath("@x"));
});

Deno.test("path: special watch paths take any characters up to 2048 bytes", () => {
  assert.ok(isSpecialPath("@releaseDomain"));
  assert.ok(!isSpecialPath("/@x"));
  assert.equal(canonWatch("@a.b c:", 0), "@a.b c:");
  const ok = "@" + "x".repeat(XENSTORE_REL_PATH_MAX - 1);
  assert.equal(canonWatch(ok, 0), ok);
  assert.equal(canonWatch(ok + "x", 0), "EINVAL");
});

Deno.test("path: ordinary watch paths follow the node-path rules", () => {
  assert.equal(canonWatch("data", 4), "/local/domain/4/data");
  assert.equal(canonWatch("/a.b", 0), "EINVAL");
  assert.equal(canonWatch("", 4), "EINVAL");
  assert.equal(canonWatch("/" + "a".repeat(XENSTORE_REL_PATH_MAX), 0), "EINVAL");
});

Deno.test("path: domainPath prints the domid as unsigned", () => {
  assert.equal(domainPath(0), "/local/domain/0");
  assert.equal(domainPath(32752), "/local/domain/32752");
  assert.equal(domainPath(-1), "/local/domain/4294967295");
});

const HELPERS: [string, string, string][] = [
  ["/", "/", ""],
  ["/a", "/", "a"],
  ["/a/b", "/a", "b"],
  ["/local/domain/7", "/local/domain", "7"],
];
for (const [p, parent, base] of HELPERS) {
  Deno.test(`path: parentOf/baseName of ${p}`, () => {
    assert.equal(parentOf(p), parent);
    assert.equal(baseName(p), base);
    if (p !== "/") assert.equal(childPath(parent, base), p);
  });
}

const ABOVE: [string, string, boolean][] = [
  ["/", "/", true],
  ["/", "/a/b", true],
  ["/a", "/a", true],
  ["/a", "/a/b", true],
  ["/a", "/ab", false],
  ["/a/b", "/a", false],
  ["/a/b", "/a/bc/d", false],
  ["/a/b", "/a/b/c/d", true],
];
for (const [w, p, want] of ABOVE) {
  Deno.test(`path: isAtOrAbove(${w}, ${p}) is ${want}`, () => {
    assert.equal(isAtOrAbove(w, p), want);
  });
}

const arbSegment = fc.stringMatching(/^[a-c]{1,2}$/);
const arbPath = fc.array(arbSegment, { maxLength: 4 }).map((s) => "/" + s.join("/"));

Deno.test("path property: isAtOrAbove(w, p) iff w is p or a chain of parentOf reaches w", () => {
  fc.assert(
    fc.property(arbPath, arbPath, (w, p) => {
      const ancestors = new Set<string>([p]);
      for (let q = p; q !== "/";) ancestors.add(q = parentOf(q));
      assert.equal(isAtOrAbove(w, p), ancestors.has(w));
    }),
    { seed: SEED, numRuns: 300 },
  );
});

Deno.test("path property: childPath(parentOf(p), baseName(p)) = p, and it is valid", () => {
  fc.assert(
    fc.property(arbPath.filter((p) => p !== "/"), (p) => {
      assert.equal(childPath(parentOf(p), baseName(p)), p);
      assert.ok(isValidPath(p));
      assert.equal(canonicalize(p, 9), p);
    }),
    { seed: SEED + 1, numRuns: 200 },
  );
});

Deno.test("path property: a relative path expands under the connection's home", () => {
  fc.assert(
    fc.property(
      fc.array(arbSegment, { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 0, max: 0x7fef }),
      (segs, domid) => {
        const rel = segs.join("/");
        assert.equal(canonicalize(rel, domid), `/local/domain/${domid}/${rel}`);
      },
    ),
    { seed: SEED + 2, numRuns: 200 },
  );
});
