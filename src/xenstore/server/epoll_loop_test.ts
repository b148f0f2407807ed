import assert from "node:assert/strict";
import { EPOLL_SPIN_MISSES_MAX, EpollLoop, type EpollPark } from "./epoll_loop.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK, EPOLLIN, libc, libcAvailable } from "./libc.ts";

/** Linux with glibc and FFI allowed; elsewhere the Unix transport uses Deno's sockets. */
const ignore = !libcAvailable();

const ONE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

/** An eventfd: readable once something was written to it, until read. */
function eventfd(): { fd: number; ring(): void; drain(): void; close(): void } {
  const c = libc();
  const fd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  assert.ok(fd >= 0);
  const scratch = new Uint8Array(8);
  return {
    fd,
    ring: () => assert.equal(c.write(fd, ONE, 8), 8),
    drain: () => void c.read(fd, scratch, 8),
    close: () => void c.close(fd),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !f(); i++) await delay(2);
  assert.ok(f(), what);
}

for (const park of ["thread", "block"] as EpollPark[]) {
  Deno.test({
    name: `epoll loop (${park}): a ready descriptor's handler runs, and stop() ends the loop`,
    ignore,
  }, async () => {
    const loop = new EpollLoop({ park, blockMs: 20 });
    const e = eventfd();
    let calls = 0;
    loop.add(e.fd, EPOLLIN, () => {
      calls++;
      e.drain();
    });
    loop.start();
    await delay(5);
    e.ring();
    await until(() => calls === 1, "the handler ran once");
    e.ring();
    await until(() => calls === 2, "and again");
    await loop.stop();
    e.close();
  });

  Deno.test({
    name: `epoll loop (${park}): a descriptor that stays ready does not starve timers`,
    ignore,
  }, async () => {
    const loop = new EpollLoop({ park, blockMs: 20 });
    const e = eventfd();
    let calls = 0;
    loop.add(e.fd, EPOLLIN, () => calls++); // never drained: ready for ever
    e.ring();
    loop.start();
    const t0 = performance.now();
    await delay(10);
    assert.ok(performance.now() - t0 < 1000, "the timer fired while the loop was busy");
    assert.ok(calls > 1, `the handler kept running (${calls} calls)`);
    await loop.stop();
    e.close();
  });
}

Deno.test(
  { name: "epoll loop: registering more than fdsMax descriptors is refused", ignore },
  async () => {
    const loop = new EpollLoop({ fdsMax: 2 });
    const fds = [eventfd(), eventfd(), eventfd()];
    loop.add(fds[0].fd, EPOLLIN, () => {});
    loop.add(fds[1].fd, EPOLLIN, () => {});
    assert.throws(
      () => loop.add(fds[2].fd, EPOLLIN, () => {}),
      /2 descriptors registered \(limit\)/,
    );
    await loop.stop();
    for (const e of fds) e.close();
  },
);

Deno.test(
  { name: "epoll loop: spinning pauses after spins that catch nothing", ignore },
  async () => {
    const loop = new EpollLoop({ spinUs: 50 });
    if (!loop.spinning) {
      await loop.stop(); // one CPU: the loop never spins
      return;
    }
    const e = eventfd();
    loop.add(e.fd, EPOLLIN, () => e.drain());
    loop.start();
    // Each ring is handled, then a 50 µs spin sees nothing more: a miss.
    // EPOLL_SPIN_MISSES_MAX of them in a row pause spinning. (Counted, not
    // sampled: a pause lasts only milliseconds; and on a loaded machine two
    // rings may merge into one wake-up, so ring until it happens, bounded.)
    for (let i = 0; i < 50 * EPOLL_SPIN_MISSES_MAX && loop.spinPauses === 0; i++) {
      e.ring();
      await delay(2);
    }
    await until(() => loop.spinPauses > 0, "spinning paused after spins that caught nothing");
    await loop.stop();
    e.close();
  },
);
