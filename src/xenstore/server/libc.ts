/**
 * @module
 * The few libc calls the epoll transport makes through Deno FFI (Linux,
 * glibc's `libc.so.6`): sockets, accept, non-blocking read/send, epoll and
 * an eventfd. Opened once per process, on first use. Every call returns
 * what the C call returns; {@link errno} reads the calling thread's errno
 * right after a failed call (the main thread's: the synchronous symbols run
 * on it).
 *
 * `read`, `write` and `send` are declared as returning `i32` (the low half of an
 * `ssize_t`, which is never above 64 KiB here): an `i32` result keeps the
 * call on V8's fast path, where a 64-bit one would come back as a BigInt.
 */

/** Linux constants (the same on x86_64 and aarch64). */
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const EPOLL_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const EINTR = 4;
export const EAGAIN = 11;

/** `sizeof(struct sockaddr_un)`: `sun_family` and 108 bytes of path. */
export const SOCKADDR_UN_BYTES = 110;
/** Longest socket path (`sun_path` less its terminating NUL). */
export const SUN_PATH_MAX = 107;

/**
 * `struct epoll_event`: a `uint32_t` mask and 8 bytes of user data, packed
 * to 12 bytes on x86_64 only (`__EPOLL_PACKED`), 16 elsewhere.
 */
export const EPOLL_EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
/** Offset of the user data in an `epoll_event`. */
export const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  /** The same call on Deno's blocking thread pool: parks without holding the JS thread. */
  epoll_wait_parked: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  sched_yield: { parameters: [], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/**
 * The symbols as called here. Deno types `usize` parameters as `bigint`
 * but takes a number as well; lengths stay numbers (no BigInt per call).
 */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint8Array, addrLen: number): number;
  listen(fd: number, backlog: number): number;
  accept4(fd: number, addr: null, addrLen: null, flags: number): number;
  read(fd: number, buf: Uint8Array, count: number): number;
  write(fd: number, buf: Uint8Array, count: number): number;
  send(fd: number, buf: Uint8Array, count: number, flags: number): number;
  close(fd: number): number;
  eventfd(initval: number, flags: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(ep: number, op: number, fd: number, event: Uint8Array): number;
  epoll_wait(ep: number, events: Uint8Array, maxEvents: number, timeoutMs: number): number;
  sched_yield(): number;
  epoll_wait_parked(
    ep: number,
    events: Uint8Array,
    maxEvents: number,
    timeoutMs: number,
  ): Promise<number>;
}

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

/** libc's symbols; throws where there is no glibc `libc.so.6` (or no `--allow-ffi`). */
export function libc(): Libc {
  if (!lib) {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
    errnoView = new Deno.UnsafePointerView(lib.symbols.__errno_location()!);
  }
  return lib.symbols as unknown as Libc;
}

/** True where {@link libc} can be opened: Linux, with FFI allowed. */
export function libcAvailable(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    libc();
    return true;
  } catch {
    return false;
  }
}

/** The main thread's `errno`, as the last failed synchronous call left it. */
export function errno(): number {
  return errnoView!.getInt32();
}

/** A `struct sockaddr_un` for `path`. */
export function sockaddrUn(path: string): Uint8Array {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length > SUN_PATH_MAX) {
    throw new Error(`socket path ${path} is ${bytes.length} bytes (limit ${SUN_PATH_MAX})`);
  }
  const addr = new Uint8Array(SOCKADDR_UN_BYTES);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  return addr;
}
