import assert from "node:assert/strict";
import { ScriptedLink } from "../xenstore/client/scripted_link.ts";
import { fromLatin1, latin1, type Message, nulJoin, watchEvent } from "../xenstore/wire/message.ts";
import { Op } from "../xenstore/wire/op.ts";
import { CHMOD_CHILD_PATH_MAX } from "./xs_chmod.ts";
import { XsOpenError } from "./xs_connect.ts";
import { LS_PATH_MAX } from "./xs_ls.ts";
import {
  CLI_STDOUT_BUFFER_BYTES,
  CLI_TRANSACTION_ATTEMPTS_MAX,
  type XsCliIo,
  xsMain,
} from "./xs_main.ts";

function args(m: Message): string[] {
  const s = latin1(m.payload);
  return (s.endsWith("\0") ? s.slice(0, -1) : s).split("\0");
}

/** An in-memory store with flat keys; `commit` decides each TRANSACTION_END T. */
function fakeServer(
  values: Record<string, string>,
  commit: (n: number) => string | undefined = () => undefined,
) {
  let tx = 0;
  let commits = 0;
  return (m: Message, l: ScriptedLink) => {
    const [path] = args(m);
    switch (m.type) {
      case Op.TRANSACTION_START:
        return l.answer(m, nulJoin([String(++tx)]));
      case Op.TRANSACTION_END: {
        const err = path === "T" ? commit(++commits) : undefined;
        return err ? l.error(m, err) : l.ok(m);
      }
      case Op.READ:
        return path in values ? l.answer(m, fromLatin1(values[path])) : l.error(m, "ENOENT");
      case Op.DIRECTORY: {
        const prefix = path === "/" ? "/" : path + "/";
        const kids = Object.keys(values).filter((k) => k.startsWith(prefix)).map((k) =>
          k.slice(prefix.length)
        )
          .filter((k) => !k.includes("/"));
        return l.answer(m, nulJoin(kids));
      }
      case Op.WRITE: {
        const nul = m.payload.indexOf(0);
        values[path] = latin1(m.payload.subarray(nul + 1));
        return l.ok(m);
      }
      case Op.WATCH:
        l.ok(m);
        return l.deliver(watchEvent(path, args(m)[1]));
      default:
        return l.ok(m);
    }
  };
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  link: ScriptedLink;
}

async function run(
  argv: string[],
  serve: ConstructorParameters<typeof ScriptedLink>[0],
  more: Partial<XsCliIo> = {},
): Promise<Ran> {
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  const link = new ScriptedLink(serve);
  const code = await xsMain(argv, {
    env: () => undefined,
    stdout: (b) => out.push(b.slice()),
    stderr: (b) => err.push(b.slice()),
    connect: () => Promise.resolve(link),
    ...more,
  });
  const text = (chunks: Uint8Array[]) => chunks.map(latin1).join("");
  return { code, stdout: text(out), stderr: text(err), link };
}

Deno.test("EAGAIN at commit re-runs the whole command; only the last run's output is printed", async () => {
  const values = { "/a": "old", "/b": "x" };
  const r = await run(
    ["read", "/a", "/b"],
    fakeServer(values, (n) => {
      values["/a"] = "new";
      return n === 1 ? "EAGAIN" : undefined;
    }),
  );
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, "new\nx\n", ""]);
  assert.equal(r.link.sent.filter((m) => m.type === Op.TRANSACTION_START).length, 2);
});

Deno.test(`after CLI_TRANSACTION_ATTEMPTS_MAX (${CLI_TRANSACTION_ATTEMPTS_MAX}) EAGAINs xs gives up`, async () => {
  const r = await run(["rm", "/a"], fakeServer({}, () => "EAGAIN"));
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "xenstore-rm: couldn't end transaction (EAGAIN every time; giving up)\n");
  assert.equal(
    r.link.sent.filter((m) => m.type === Op.TRANSACTION_START).length,
    CLI_TRANSACTION_ATTEMPTS_MAX,
  );
});

Deno.test("a failing key aborts the transaction and the earlier output is still printed", async () => {
  const r = await run(["read", "-p", "/a", "/missing", "/b"], fakeServer({ "/a": "A", "/b": "B" }));
  assert.deepEqual([r.code, r.stdout, r.stderr], [
    1,
    "/a: A\n",
    "xenstore-read: couldn't read path /missing\n",
  ]);
  const end = r.link.sent.find((m) => m.type === Op.TRANSACTION_END)!;
  assert.equal(latin1(end.payload), "F\0");
  assert.equal(r.link.sent.some((m) => args(m)[0] === "/b"), false);
});

Deno.test("a failing commit that is not EAGAIN: couldn't end transaction, no output", async () => {
  const r = await run(["list", "/d"], fakeServer({ "/d/x": "" }, () => "ENOMEM"));
  assert.deepEqual([r.code, r.stdout, r.stderr], [
    1,
    "",
    "xenstore-list: couldn't end transaction\n",
  ]);
});

Deno.test("couldn't start transaction", async () => {
  const r = await run(["exists", "/a"], (m, l) => l.error(m, "ENOSPC"));
  assert.deepEqual([r.code, r.stderr], [1, "xenstore-exists: couldn't start transaction\n"]);
});

Deno.test("arguments reach the wire as their UTF-8 bytes; -R writes them unchanged", async () => {
  const values: Record<string, string> = {};
  const r = await run(["write", "-R", "/é", "\\x41é"], fakeServer(values));
  assert.equal(r.code, 0);
  assert.deepEqual(values, { "/\xc3\xa9": "\\x41\xc3\xa9" });
  const more: Record<string, string> = {};
  await run(["write", "/v", "\\x41\\t"], fakeServer(more));
  assert.equal(more["/v"], "A\t");
});

Deno.test("watch prints event paths; a lost connection ends -n runs with 0, endless runs with 1", async () => {
  const events = (m: Message, l: ScriptedLink) => {
    fakeServer({})(m, l);
    if (m.type === Op.WATCH && args(m)[0] === "/b") {
      queueMicrotask(() => l.deliver(watchEvent("/a/x", "/a")));
    }
  };
  const r = await run(["watch", "-n", "3", "/a", "/b"], events);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, "/a\n/b\n/a/x\n", ""]);

  const dropAfterWatch = (m: Message, l: ScriptedLink) => {
    fakeServer({})(m, l);
    queueMicrotask(() => l.drop(new Error("daemon died")));
  };
  const counted = await run(["watch", "-n", "5", "/a"], dropAfterWatch);
  assert.deepEqual([counted.code, counted.stdout], [0, "/a\n"]);
  const endless = await run(["watch", "/a"], dropAfterWatch);
  assert.equal(endless.code, 1);
  assert.match(
    endless.stderr,
    /^xenstore-watch: xs_read_watch: xenstore connection lost: daemon died\n$/,
  );
});

Deno.test("watch failures: Unable to add watch, with the extra empty line", async () => {
  const r = await run(["watch", "/a"], (m, l) => l.error(m, "EINVAL"));
  assert.deepEqual([r.code, r.stderr], [1, "xenstore-watch: Unable to add watch on /a\n\n"]);
});

Deno.test("ls takes the width from the terminal stdout is", async () => {
  const serve = fakeServer({ "/long": "x".repeat(100) });
  assert.equal((await run(["ls"], serve)).stdout, `long = "${"x".repeat(68)}\\..."\n`);
  assert.equal(
    (await run(["ls"], serve, { stdoutColumns: 30 })).stdout,
    `long = "${"x".repeat(16)}\\..."\n`,
  );
});

Deno.test("chmod: bad letter, and -u on a relative path runs out of separators", async () => {
  const bad = await run(["chmod", "/a", "n0", "q5"], fakeServer({}));
  assert.deepEqual([bad.code, bad.stderr], [
    1,
    "xenstore-chmod: Invalid permission specification: 'q'\n",
  ]);
  const rel = await run(["chmod", "-u", "a/b", "n0"], fakeServer({}));
  assert.deepEqual([rel.code, rel.stderr], [
    1,
    "xenstore-chmod: Unable to locate path separator '/' in 'a'\n",
  ]);
  const sent = rel.link.sent.filter((m) => m.type === Op.SET_PERMS).map((m) => latin1(m.payload));
  assert.deepEqual(sent, ["a/b\0n0\0", "a\0n0\0"]);
});

Deno.test("no mode, an unknown mode, and a --ws without URL", async () => {
  const none = await run([], fakeServer({}));
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^xs: Usage: xs <mode> \[-h\] \[\.\.\.\]\n/);
  const unknown = await run(["frob"], fakeServer({}));
  assert.match(
    unknown.stderr,
    /^xs: unknown mode frob\nxs: modes: read write rm exists list ls chmod watch mkdir\n$/,
  );
  const ws = await run(["read", "/a", "--ws"], fakeServer({}));
  assert.deepEqual([ws.code, ws.stderr], [
    1,
    "xenstore-read: option '--ws' requires an argument\n",
  ]);
});

Deno.test("a connection failure prints xs_open: <strerror> and exits 1", async () => {
  const r = await run(["read", "/a"], fakeServer({}), {
    connect: () => Promise.reject(new XsOpenError("No such file or directory")),
  });
  assert.deepEqual([r.code, r.stdout, r.stderr], [
    1,
    "",
    "xenstore-read: xs_open: No such file or directory\n",
  ]);
});

Deno.test("usage errors exit 1 before connecting", async () => {
  let connected = false;
  const r = await run(["write", "/a"], fakeServer({}), {
    connect: () => {
      connected = true;
      return Promise.reject(new Error("unreachable"));
    },
  });
  assert.equal(r.code, 1);
  assert.equal(connected, false);
  assert.equal(r.stderr, "xenstore-write: Usage: xenstore-write [-h] [-s] [-R] key value [...]\n");
});

Deno.test("mkdir creates each path, failure: could not create path", async () => {
  const ok = await run(["mkdir", "/a", "/b"], fakeServer({}));
  assert.equal(ok.code, 0);
  assert.deepEqual(ok.link.sent.filter((m) => m.type === Op.MKDIR).map((m) => args(m)[0]), [
    "/a",
    "/b",
  ]);
  const bad = await run(
    ["mkdir", "bad path"],
    (m, l) => (m.type === Op.MKDIR ? l.error(m, "EINVAL") : fakeServer({})(m, l)),
  );
  assert.deepEqual([bad.code, bad.stderr], [1, "xenstore-mkdir: could not create path bad path\n"]);
});

Deno.test("chmod -r cuts child paths to CHMOD_CHILD_PATH_MAX - 1 characters", async () => {
  const long = "c".repeat(300);
  const r = await run(["chmod", "-r", "/p", "n0"], (m, l) => {
    if (m.type === Op.DIRECTORY) {
      return l.answer(m, args(m)[0] === "/p" ? nulJoin([long]) : new Uint8Array());
    }
    fakeServer({})(m, l);
  });
  const sent = r.link.sent.filter((m) => m.type === Op.SET_PERMS).map((m) => args(m)[0]);
  assert.deepEqual(sent, ["/p", `/p/${long}`.slice(0, CHMOD_CHILD_PATH_MAX - 1)]);
  assert.equal(sent[1].length, 255);
});

Deno.test("ls does not read a child whose path reaches LS_PATH_MAX", async () => {
  const long = "n".repeat(LS_PATH_MAX);
  const r = await run(["ls", "/"], (m, l) => {
    if (m.type === Op.DIRECTORY) {
      return l.answer(m, args(m)[0] === "/" ? nulJoin([long]) : new Uint8Array());
    }
    fakeServer({})(m, l);
  });
  assert.equal(r.link.sent.some((m) => m.type === Op.READ), false);
  assert.equal(r.stdout, `${long.slice(0, 80 - 8)}:\n\n`);
});

Deno.test("ls output over CLI_STDOUT_BUFFER_BYTES is written in several pieces", async () => {
  const values: Record<string, string> = {};
  for (let i = 0; i < 2000; i++) values[`/k${i}`] = "v".repeat(60);
  const writes: number[] = [];
  const link = new ScriptedLink(fakeServer(values));
  const code = await xsMain(["ls"], {
    env: () => undefined,
    stdout: (b) => writes.push(b.length),
    stderr: () => {},
    connect: () => Promise.resolve(link),
  });
  assert.equal(code, 0);
  assert.ok(writes.length > 1, `writes ${writes}`);
  assert.ok(
    writes.slice(0, -1).every((n) =>
      n >= CLI_STDOUT_BUFFER_BYTES && n < CLI_STDOUT_BUFFER_BYTES + 100
    ),
  );
  assert.ok(writes.reduce((a, b) => a + b) > 2000 * 60);
});

Deno.test("ls skips a child directory that vanished (ENOENT) but dies on any other error below the top", async () => {
  const serve = (errno: string) => (m: Message, l: ScriptedLink) => {
    const [path] = args(m);
    if (m.type === Op.DIRECTORY && path === "/") return l.answer(m, nulJoin(["a", "b"]));
    if (m.type === Op.DIRECTORY && path === "/a") return l.error(m, errno);
    if (m.type === Op.DIRECTORY) return l.answer(m, new Uint8Array());
    if (m.type === Op.READ) return l.answer(m, fromLatin1(path));
    l.ok(m);
  };
  const gone = await run(["ls"], serve("ENOENT"));
  assert.deepEqual([gone.code, gone.stdout, gone.stderr], [0, 'a = "/a"\nb = "/b"\n', ""]);
  const denied = await run(["ls"], serve("EACCES"));
  assert.deepEqual([denied.code, denied.stdout, denied.stderr], [
    1,
    'a = "/a"\n',
    "xenstore-ls: xs_directory (/a): Permission denied\n",
  ]);
});
