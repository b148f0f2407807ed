import assert from "node:assert/strict";
import {
  chooseTarget,
  extractLinkFlags,
  openTarget,
  osErrorText,
  XsOpenError,
} from "./xs_connect.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("socket path: XENSTORED_PATH, else XENSTORED_RUNDIR/socket, else the default", () => {
  assert.deepEqual(chooseTarget({}, env({ XENSTORED_PATH: "/p", XENSTORED_RUNDIR: "/r" })), {
    kind: "unix",
    path: "/p",
  });
  assert.deepEqual(chooseTarget({}, env({ XENSTORED_RUNDIR: "/r" })), {
    kind: "unix",
    path: "/r/socket",
  });
  assert.deepEqual(chooseTarget({}, env({})), { kind: "unix", path: "/var/run/xenstored/socket" });
  assert.deepEqual(chooseTarget({}, env({ XENSTORED_PATH: "" })), { kind: "unix", path: "" });
});

Deno.test("WebSocket: --ws and --credential win over XENSTORE_WS_URL / XENSTORE_CREDENTIAL", () => {
  const e = env({
    XENSTORE_WS_URL: "ws://e/",
    XENSTORE_CREDENTIAL: "/e.cred",
    XENSTORED_PATH: "/p",
  });
  assert.deepEqual(chooseTarget({}, e), {
    kind: "websocket",
    url: "ws://e/",
    credentialFile: "/e.cred",
  });
  assert.deepEqual(chooseTarget({ ws: "ws://f/", credential: "/f.cred" }, e), {
    kind: "websocket",
    url: "ws://f/",
    credentialFile: "/f.cred",
  });
});

Deno.test("our flags are taken out wherever they are, up to --", () => {
  const f = extractLinkFlags(["-p", "--ws", "ws://x/", "/a", "--credential=/c", "--", "--ws", "y"]);
  assert.deepEqual(f.args, ["-p", "/a", "--", "--ws", "y"]);
  assert.equal(f.ws, "ws://x/");
  assert.equal(f.credential, "/c");
  assert.equal(extractLinkFlags(["/a", "--ws"]).error, "option '--ws' requires an argument");
  assert.deepEqual(extractLinkFlags(["--wsx", "--cred"]).args, ["--wsx", "--cred"]);
});

Deno.test("connection failures read like libxenstore's errno", async () => {
  const dir = await Deno.makeTempDir({ prefix: "xsc" });
  try {
    await assert.rejects(openTarget({ kind: "unix", path: `${dir}/missing` }), (e: unknown) => {
      assert.ok(e instanceof XsOpenError);
      assert.equal(e.message, "xs_open: No such file or directory");
      return true;
    });
    await assert.rejects(openTarget({ kind: "unix", path: dir }), /xs_open: Is a directory/);
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(
      openTarget({ kind: "unix", path: `${dir}/file` }),
      /xs_open: Connection refused/,
    );
    await assert.rejects(
      openTarget({ kind: "websocket", url: "ws://127.0.0.1:9/" }),
      /no credential/,
    );
    await assert.rejects(
      openTarget({ kind: "websocket", url: "ws://127.0.0.1:9/", credentialFile: `${dir}/nope` }),
      /xs_open: credential file .*nope: No such file or directory/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(
    osErrorText(new Error("Permission denied (os error 13): open '/x'")),
    "Permission denied",
  );
});
