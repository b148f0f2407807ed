import assert from "node:assert/strict";
import fc from "fast-check";
import { Scheduler } from "./scheduler.ts";
import {
  encodeTraceBytes,
  formatTraceLine,
  JsonlTrace,
  MemoryTrace,
  NULL_TRACE,
  TeeTrace,
  TRACE_MEMORY_LINES_MAX,
  type TraceEvent,
} from "./trace.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("keys come in the order t, src, dom, then the event's own", () => {
  assert.equal(
    formatTraceLine(5, { op: "write", dom: 7, src: "xenstored", path: "/a" }),
    '{"t":5,"src":"xenstored","dom":7,"op":"write","path":"/a"}',
  );
  assert.equal(
    formatTraceLine(0, { src: "xl", b: 2, a: 1 }),
    '{"t":0,"src":"xl","b":2,"a":1}',
  );
});

Deno.test("undefined fields are left out and dom is optional", () => {
  assert.equal(
    formatTraceLine(1, { src: "hv", dom: undefined, x: undefined, y: null }),
    '{"t":1,"src":"hv","y":null}',
  );
});

Deno.test("bytes are latin1 text when printable, hex otherwise", () => {
  assert.equal(encodeTraceBytes(bytes("control/shutdown")), "control/shutdown");
  assert.equal(encodeTraceBytes(new Uint8Array()), "");
  assert.equal(encodeTraceBytes(bytes("a/b\0suspend\0")), "a/b\0suspend\0");
  assert.equal(encodeTraceBytes(new Uint8Array([0xff, 0x00, 0x0a])), "hex:ff000a");
  assert.equal(encodeTraceBytes(bytes("tab\there")), "hex:7461620968657265");
  assert.equal(encodeTraceBytes(bytes("hex:00")), "hex:6865783a3030", "no ambiguity");
  assert.equal(
    formatTraceLine(0, { src: "wire", payload: bytes("x\0") }),
    '{"t":0,"src":"wire","payload":"x\\u0000"}',
  );
});

Deno.test("bytes and bigints are encoded at any depth", () => {
  assert.equal(
    formatTraceLine(0, {
      src: "s",
      msg: { body: new Uint8Array([1]), list: [bytes("ok"), 2n ** 70n] },
      n: 5n,
    }),
    '{"t":0,"src":"s","msg":{"body":"hex:01","list":["ok","1180591620717411303424"]},"n":"5"}',
  );
});

Deno.test("malformed events are assertion failures", () => {
  assert.throws(() => formatTraceLine(0, { src: "" }), /without a src/);
  assert.throws(() => formatTraceLine(0, { src: "x", t: 1 }), /field "t" is reserved/);
  assert.throws(() => formatTraceLine(0, { src: "x", dom: 1.5 }), /dom 1.5 is not an integer/);
  assert.throws(() => formatTraceLine(0, {} as TraceEvent), /without a src/);
});

Deno.test("every line parses back to t, src, dom and the JSON-safe fields", () => {
  fc.assert(
    fc.property(
      fc.nat(),
      fc.string({ minLength: 1 }),
      fc.option(fc.nat({ max: 0x7fff }), { nil: undefined }),
      fc.dictionary(fc.string().filter((k) => !["t", "src", "dom"].includes(k)), fc.jsonValue()),
      (t, src, dom, fields) => {
        const ev: TraceEvent = { src, ...fields };
        if (dom !== undefined) ev.dom = dom;
        const line = formatTraceLine(t, ev);
        assert.ok(!line.includes("\n"));
        // Checked on the text: JSON.parse would list integer-like keys first.
        const head = `{"t":${t},"src":${JSON.stringify(src)}` +
          (dom === undefined ? "" : `,"dom":${dom}`);
        assert.ok(line.startsWith(head), line);
        const back = JSON.parse(line);
        // JSON.parse(JSON.stringify(x)) normalises -0 to 0, as the line does.
        const expected = JSON.parse(JSON.stringify({ t, src, dom, ...fields }));
        assert.deepEqual(back, expected);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("JsonlTrace stamps lines with the clock's time", () => {
  const sched = new Scheduler();
  const lines: string[] = [];
  const trace = new JsonlTrace(sched, (l) => lines.push(l));
  trace.emit({ src: "a" });
  sched.setTimer(1_500, () => trace.emit({ src: "b", dom: 0 }));
  sched.run();
  assert.deepEqual(lines, ['{"t":0,"src":"a"}', '{"t":1500,"src":"b","dom":0}']);
});

Deno.test("NULL_TRACE accepts and drops events", () => {
  NULL_TRACE.emit({ src: "anything", dom: 1, big: new Uint8Array(10) });
  assert.ok(Object.isFrozen(NULL_TRACE));
});

Deno.test("MemoryTrace collects lines and renders JSONL text", () => {
  const sched = new Scheduler();
  const trace = new MemoryTrace(sched);
  assert.equal(trace.text(), "");
  trace.emit({ src: "x", n: 1 });
  trace.emit({ src: "y" });
  assert.deepEqual(trace.lines, ['{"t":0,"src":"x","n":1}', '{"t":0,"src":"y"}']);
  assert.equal(trace.text(), '{"t":0,"src":"x","n":1}\n{"t":0,"src":"y"}\n');
  assert.equal(trace.overflowed, false);
});

Deno.test("MemoryTrace past linesMax ends with one overflow marker and counts the rest", () => {
  const sched = new Scheduler({ startNs: 9 });
  const trace = new MemoryTrace(sched, 3);
  for (let i = 0; i < 6; i++) trace.emit({ src: "e", i });
  assert.equal(trace.lines.length, 4);
  assert.equal(trace.lines[3], '{"t":9,"src":"trace","overflow":true,"linesMax":3}');
  assert.equal(trace.dropped, 3);
  assert.equal(trace.overflowed, true);
  assert.throws(() => new MemoryTrace(sched, -1), /bad linesMax/);
});

Deno.test("MemoryTrace stops at TRACE_MEMORY_LINES_MAX by default", () => {
  const trace = new MemoryTrace(new Scheduler());
  const ev = { src: "e" };
  for (let i = 0; i <= TRACE_MEMORY_LINES_MAX; i++) trace.emit(ev);
  assert.equal(trace.lines.length, TRACE_MEMORY_LINES_MAX + 1);
  assert.equal(trace.dropped, 1);
  assert.match(trace.lines[TRACE_MEMORY_LINES_MAX], /"overflow":true,"linesMax":250000/);
});

Deno.test("TeeTrace sends each event to every trace in order", () => {
  const sched = new Scheduler();
  const order: string[] = [];
  const a = new JsonlTrace(sched, (l) => order.push(`a ${l}`));
  const b = new JsonlTrace(sched, (l) => order.push(`b ${l}`));
  const tee = new TeeTrace(a, NULL_TRACE, b);
  tee.emit({ src: "s", k: "v" });
  assert.deepEqual(order, ['a {"t":0,"src":"s","k":"v"}', 'b {"t":0,"src":"s","k":"v"}']);
  new TeeTrace().emit({ src: "nobody" });
});
