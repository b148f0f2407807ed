import assert from "node:assert/strict";
import { fromLatin1 } from "../wire/message.ts";
import { parseDirectoryPart, replyStrings, replyText } from "./replies.ts";

Deno.test("reply strings split on NUL and keep a final unterminated string", () => {
  assert.deepEqual(replyStrings(fromLatin1("")), []);
  assert.deepEqual(replyStrings(fromLatin1("a\0b\0")), ["a", "b"]);
  assert.deepEqual(replyStrings(fromLatin1("a\0\0")), ["a", ""]);
  assert.deepEqual(replyStrings(fromLatin1("a\0b")), ["a", "b"]);
  assert.deepEqual(replyStrings(fromLatin1("\xff\0")), ["\xff"]);
});

Deno.test("reply text stops at the first NUL", () => {
  assert.equal(replyText(fromLatin1("12\0")), "12");
  assert.equal(replyText(fromLatin1("12")), "12");
  assert.equal(replyText(fromLatin1("T\0junk")), "T");
});

Deno.test("a DIRECTORY_PART reply is a generation and a chunk", () => {
  const r = parseDirectoryPart(fromLatin1("42\0a\0b\0\0"));
  assert.equal(r.gen, "42");
  assert.deepEqual([...r.chunk], [...fromLatin1("a\0b\0\0")]);
  assert.equal(parseDirectoryPart(fromLatin1("7")).chunk.length, 0);
});
