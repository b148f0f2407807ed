import assert from "node:assert/strict";
import { Node } from "./node.ts";

const list = (n: Node) => new TextDecoder().decode(n.encodedChildren()).split("\0").slice(0, -1);

Deno.test("Node: a name appended again keeps its place; removal takes the first entry", () => {
  const n = new Node(new Uint8Array(0), [{ id: 0, perm: 0 }], 1, ["a", "b", "c"]);
  n.addChild("a");
  n.addChild("d");
  assert.deepEqual([...n.children()], ["a", "b", "c", "a", "d"]);
  assert.deepEqual(list(n), ["a", "b", "c", "a", "d"]);
  assert.equal(n.childCount, 5);
  assert.equal(n.childBytes, 10);
  const copy = n.clone();
  assert.equal(n.removeChild("a"), true);
  assert.deepEqual([...n.children()], ["b", "c", "a", "d"]);
  assert.equal(n.hasChild("a"), true);
  assert.equal(n.removeChild("a"), true);
  assert.equal(n.hasChild("a"), false);
  assert.equal(n.removeChild("a"), false);
  n.addChild("a");
  assert.deepEqual(list(n), ["b", "c", "d", "a"]);
  assert.equal(n.childBytes, 8);
  // The copy taken before is untouched.
  assert.deepEqual([...copy.children()], ["a", "b", "c", "a", "d"]);
});
