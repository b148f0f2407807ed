/**
 * @module
 * `perform()` of Xen 4.17's `xenstore_client.c` for the modes that work key
 * by key — read, write, rm (with `-t`), exists, list — plus our `mkdir`
 * (xenstore-protocol.md §11.3–§11.7). Each returns the tool's `ret`: 0, or
 * 1 after the first failing key (the caller then aborts the transaction).
 * chmod, ls and watch have files of their own.
 */
import { fromLatin1, latin1 } from "../xenstore/wire/message.ts";
import type { XsRun } from "./xs_run.ts";
import { sanitiseValue, unsanitiseValue } from "./xs_sanitise.ts";

/** Runs a key-by-key mode in transaction `tx` (0 = none); returns `ret`. */
export async function performKeys(run: XsRun, tx: number): Promise<number> {
  switch (run.cmd.mode) {
    case "read":
      return await readKeys(run, tx);
    case "write":
      return await writePairs(run, tx);
    case "rm":
      return await rmKeys(run, tx);
    case "exists":
      return await existsKeys(run, tx);
    case "list":
      return await listKeys(run, tx);
    case "mkdir":
      return await mkdirKeys(run, tx);
    default:
      throw new Error(`performKeys: mode ${run.cmd.mode} is not key by key`);
  }
}

async function readKeys(run: XsRun, tx: number): Promise<number> {
  for (const key of run.cmd.operands) {
    let value: Uint8Array;
    try {
      value = await run.client.read(key, tx);
    } catch {
      run.warn(`couldn't read path ${key}`);
      return 1;
    }
    if (run.cmd.prefix) run.output(`${key}: `);
    run.output(run.cmd.raw ? latin1(value) : `${sanitiseValue(value)}\n`);
  }
  return 0;
}

async function writePairs(run: XsRun, tx: number): Promise<number> {
  const ops = run.cmd.operands;
  for (let i = 0; i + 1 < ops.length; i += 2) {
    const spec = fromLatin1(ops[i + 1]);
    const value = run.cmd.raw ? spec.subarray(0, nulOrEnd(spec)) : unsanitiseValue(spec);
    try {
      await run.client.write(ops[i], value, tx);
    } catch {
      run.warn(`could not write path ${ops[i]}`);
      return 1;
    }
  }
  return 0;
}

function nulOrEnd(b: Uint8Array): number {
  const i = b.indexOf(0);
  return i < 0 ? b.length : i;
}

async function rmOne(run: XsRun, path: string, tx: number): Promise<boolean> {
  try {
    await run.client.rm(path, tx);
    return true;
  } catch {
    run.warn(`could not remove path ${path}`);
    return false;
  }
}

/**
 * rm; with `-t`, after each removal the parent goes too while its value is
 * empty and it has no children, walking up until a path without `/` (the
 * READ of `""` fails, so `/` itself is never removed).
 */
async function rmKeys(run: XsRun, tx: number): Promise<number> {
  for (const key of run.cmd.operands) {
    if (!run.cmd.tidy) {
      if (!await rmOne(run, key, tx)) return 1;
      continue;
    }
    // Each round strictly shortens `path`, so the loop ends.
    let path = key;
    for (;;) {
      if (!await rmOne(run, path, tx)) return 1;
      const slash = path.lastIndexOf("/");
      if (slash < 0) break;
      path = path.slice(0, slash);
      if (!await emptyLeaf(run, path, tx)) break;
    }
  }
  return 0;
}

async function emptyLeaf(run: XsRun, path: string, tx: number): Promise<boolean> {
  try {
    if ((await run.client.read(path, tx)).length !== 0) return false;
    return (await run.client.directory(path, tx)).length === 0;
  } catch {
    return false;
  }
}

async function existsKeys(run: XsRun, tx: number): Promise<number> {
  for (const key of run.cmd.operands) {
    try {
      await run.client.read(key, tx);
    } catch {
      return 1;
    }
  }
  return 0;
}

async function listKeys(run: XsRun, tx: number): Promise<number> {
  for (const key of run.cmd.operands) {
    let names: string[];
    try {
      names = await run.client.directory(key, tx);
    } catch {
      run.warn(`could not list path ${key}`);
      return 1;
    }
    for (const name of names) run.output(run.cmd.prefix ? `${key}/${name}\n` : `${name}\n`);
  }
  return 0;
}

async function mkdirKeys(run: XsRun, tx: number): Promise<number> {
  for (const key of run.cmd.operands) {
    try {
      await run.client.mkdir(key, tx);
    } catch {
      run.warn(`could not create path ${key}`);
      return 1;
    }
  }
  return 0;
}
