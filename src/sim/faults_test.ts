import assert from "node:assert/strict";
import fc from "fast-check";
import { Rng } from "./rng.ts";
import {
  FAULT_NAME_LENGTH_MAX,
  FAULT_POINTS_MAX,
  type FaultRatio,
  Faults,
  FaultSpecError,
  parseFaultSpec,
} from "./faults.ts";

function hits(faults: Faults, name: string, n: number): boolean[] {
  return Array.from({ length: n }, () => faults.hit(name));
}

Deno.test("a point draws from rng.fork('fault:' + name)", () => {
  const faults = new Faults(new Rng(1), { "guest.ack.drop": [1, 3] });
  const stream = new Rng(1).fork("fault:guest.ack.drop");
  const expected = Array.from({ length: 200 }, () => stream.chance(1, 3));
  assert.deepEqual(hits(faults, "guest.ack.drop", 200), expected);
});

Deno.test("points that are not enabled never fire and use no randomness", () => {
  const rng = new Rng(2);
  const twin = new Rng(2);
  const faults = new Faults(rng, { "a.b": [1, 2] });
  assert.deepEqual(hits(faults, "not.enabled", 100), new Array(100).fill(false));
  assert.equal(faults.enabled("not.enabled"), false);
  assert.equal(rng.u32(), twin.u32(), "the parent stream is untouched");
  assert.deepEqual(faults.counts(), { "a.b": 0 });
});

Deno.test("enabling another point does not shift an existing one", () => {
  const alone = new Faults(new Rng(3), { "guest.ack.drop": [1, 4] });
  const together = new Faults(new Rng(3), {
    "guest.ack.drop": [1, 4],
    "xs.reply.delay": [1, 2],
    "hv.evtchn.lost": [3, 7],
  });
  const a: boolean[] = [];
  const b: boolean[] = [];
  for (let i = 0; i < 300; i++) {
    a.push(alone.hit("guest.ack.drop"));
    together.hit("xs.reply.delay");
    b.push(together.hit("guest.ack.drop"));
    if (i % 3 === 0) together.hit("hv.evtchn.lost");
  }
  assert.deepEqual(b, a);
});

Deno.test("re-weighting a point does not shift the others", () => {
  const run = (num: number) => {
    const f = new Faults(new Rng(4), { "x.y": [num, 10], "p.q": [1, 3] });
    const out: boolean[] = [];
    for (let i = 0; i < 100; i++) {
      f.hit("x.y");
      out.push(f.hit("p.q"));
    }
    return out;
  };
  assert.deepEqual(run(1), run(9));
});

Deno.test("ratios behave as probabilities", () => {
  const faults = new Faults(new Rng(5), { never: [0, 5], always: [5, 5], tenth: [1, 10] });
  const n = 20_000;
  let tenth = 0;
  for (let i = 0; i < n; i++) {
    assert.equal(faults.hit("never"), false);
    assert.equal(faults.hit("always"), true);
    if (faults.hit("tenth")) tenth++;
  }
  assert.ok(Math.abs(tenth / n - 0.1) < 0.01, `rate ${tenth / n}`);
  assert.deepEqual(faults.counts(), { always: n, never: 0, tenth });
  assert.deepEqual(faults.checks(), { always: n, never: n, tenth: n });
});

Deno.test("disableAll turns every point off for the liveness phase", () => {
  const faults = new Faults(new Rng(6), { "a": [1, 1] });
  assert.equal(faults.active, true);
  assert.equal(faults.hit("a"), true);
  faults.disableAll();
  assert.equal(faults.active, false);
  assert.equal(faults.enabled("a"), false);
  assert.deepEqual(hits(faults, "a", 10), new Array(10).fill(false));
  assert.deepEqual(faults.counts(), { a: 1 });
  assert.deepEqual(faults.checks(), { a: 1 });
});

Deno.test("counts lists enabled points in name order", () => {
  const faults = new Faults(new Rng(7), { "z.z": [1, 1], "a.a": [1, 1], "m": [0, 1] });
  faults.hit("z.z");
  assert.deepEqual(Object.keys(faults.counts()), ["a.a", "m", "z.z"]);
  assert.deepEqual(faults.counts(), { "a.a": 0, m: 0, "z.z": 1 });
  assert.equal(faults.spec(), "a.a=1/1,m=0/1,z.z=1/1");
});

Deno.test("no faults by default", () => {
  const faults = new Faults(new Rng(8));
  assert.equal(faults.hit("anything"), false);
  assert.deepEqual(faults.counts(), {});
  assert.equal(faults.spec(), "");
});

Deno.test("parseFaultSpec reads name=num/den lists", () => {
  assert.deepEqual(parseFaultSpec("a.b=1/10,c=1/2"), { "a.b": [1, 10], c: [1, 2] });
  assert.deepEqual(parseFaultSpec("  guest.ack.drop = 1 / 10 , xs.conn-reset=0/3 "), {
    "guest.ack.drop": [1, 10],
    "xs.conn-reset": [0, 3],
  });
  assert.deepEqual(parseFaultSpec(""), {});
  assert.deepEqual(parseFaultSpec("   "), {});
});

Deno.test("parseFaultSpec names the bad entry and the expected form", () => {
  const cases: [string, RegExp][] = [
    ["a", /entry "a": expected name=num\/den, e\.g\. guest\.ack\.drop=1\/10/],
    ["a=1", /entry "a=1": expected name=num\/den/],
    ["a=1/2,", /entry "": expected/],
    ["a=-1/2", /entry "a=-1\/2"/],
    ["a=1.5/2", /entry "a=1\.5\/2"/],
    ["a=1/0", /"a": ratio 1\/0 is not a probability/],
    ["a=3/2", /"a": ratio 3\/2 is not a probability/],
    ["a=1/4294967297", /ratio 1\/4294967297/],
    ["Guest.Ack=1/2", /fault point "Guest\.Ack": names are dotted lower-case words/],
    ["a..b=1/2", /fault point "a\.\.b"/],
    ["7=1/2", /fault point "7".*starting with a letter/],
    ["__proto__=1/2", /fault point "__proto__"/],
    ["a=1/2,a=1/3", /names "a" twice/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseFaultSpec(text), (e: unknown) => {
      assert.ok(e instanceof FaultSpecError, `${text}: ${e}`);
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("a spec over FAULT_POINTS_MAX points is refused", () => {
  const names = Array.from({ length: FAULT_POINTS_MAX + 1 }, (_, i) => `p${i}`);
  const spec: Record<string, FaultRatio> = Object.fromEntries(names.map((n) => [n, [1, 2]]));
  assert.throws(() => new Faults(new Rng(1), spec), /enables 257 points \(limit 256\)/);
  assert.throws(
    () => parseFaultSpec(names.map((n) => `${n}=1/2`).join(",")),
    /257 entries \(limit 256\)/,
  );
  delete spec[names[0]];
  assert.equal(Object.keys(new Faults(new Rng(1), spec).counts()).length, FAULT_POINTS_MAX);
});

Deno.test("a name over FAULT_NAME_LENGTH_MAX is refused", () => {
  const ok = "a".repeat(FAULT_NAME_LENGTH_MAX);
  new Faults(new Rng(1), { [ok]: [1, 2] });
  assert.throws(() => new Faults(new Rng(1), { [`${ok}a`]: [1, 2] }), FaultSpecError);
});

Deno.test("the constructor validates ratios given as data", () => {
  assert.throws(() => new Faults(new Rng(1), { a: [1, 0] }), /ratio 1\/0/);
  assert.throws(() => new Faults(new Rng(1), { a: [0.5, 1] }), /ratio 0\.5\/1/);
});

Deno.test("spec() round-trips through parseFaultSpec", () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,6}(\.[a-z0-9][a-z0-9_-]{0,6}){0,3}$/);
  const ratio = fc.integer({ min: 1, max: 1000 }).chain((den) =>
    fc.tuple(fc.integer({ min: 0, max: den }), fc.constant(den))
  );
  fc.assert(
    fc.property(fc.dictionary(name, ratio, { maxKeys: 10 }), (spec) => {
      const faults = new Faults(new Rng(1), spec);
      const back = parseFaultSpec(faults.spec());
      assert.deepEqual(back, Object.fromEntries(Object.keys(spec).sort().map((k) => [k, spec[k]])));
    }),
    { numRuns: 200 },
  );
});
