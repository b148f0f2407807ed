import assert from "node:assert/strict";
import { PageAllocator, PageAllocatorError, RING_PAGES_MAX } from "./page_allocator.ts";
import { GrantRefAllocator, GrantRefError } from "./grant_refs.ts";

Deno.test("page allocator: lowest free pfn first, freed pages come back, the bound is enforced", () => {
  const pages = new PageAllocator(100, 3);
  assert.deepEqual([pages.alloc(), pages.alloc(), pages.alloc()], [100, 101, 102]);
  assert.throws(() => pages.alloc(), PageAllocatorError);
  pages.free(101);
  assert.equal(pages.alloc(), 101);
  assert.equal(pages.used, 3);
  assert.throws(() => pages.free(99), /freed but not allocated/);
  assert.throws(() => new PageAllocator(0, RING_PAGES_MAX + 1), RangeError);
  assert.throws(() => new PageAllocator(-1), RangeError);
});

Deno.test("grant refs: never a reserved entry, round-robin so a freed ref is reused last, bounded", () => {
  const refs = new GrantRefAllocator(11);
  assert.deepEqual([refs.alloc(), refs.alloc()], [8, 9]);
  refs.free(8);
  assert.equal(refs.alloc(), 10);
  assert.equal(refs.alloc(), 8);
  assert.throws(() => refs.alloc(), GrantRefError);
  assert.throws(() => new GrantRefAllocator(8), RangeError);
});
