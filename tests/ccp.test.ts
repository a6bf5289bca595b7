/**
 * ./ccp, the one way to run every command without a global install, and the lock files that
 * make Deno and Bun install the same versions.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../lib/ops/version.ts";
import { repoRoot, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";

const ccp = join(repoRoot, "ccp");

function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn("bash", [ccp, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    })
  );
  return { pid: child.pid!, output: () => out, exited };
}

async function waitFor<T>(what: string, get: () => T | undefined, exited: Promise<unknown>) {
  let gone = false;
  exited.then(() => (gone = true));
  for (let i = 0; i < 600; i++) {
    const v = get();
    if (v !== undefined) return v;
    if (gone) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no ${what}`);
}

describe("./ccp", () => {
  it("runs main.ts with the pinned runtime: ./ccp --version", async () => {
    const run = start(["--version"]);
    assert.equal(await run.exited, 0, run.output());
    assert.equal(run.output().trim().split("\n").at(-1), VERSION);
  });

  it("pins the same runtime versions as CI", () => {
    const wrapper = readFileSync(ccp, "utf8");
    const ci = readFileSync(join(repoRoot, ".ci/run"), "utf8");
    for (const name of ["DENO_VERSION", "BUN_VERSION"]) {
      const pinned = (text: string) => text.match(new RegExp(`^${name}=(\\S+)$`, "m"))?.[1];
      assert.ok(pinned(wrapper));
      assert.equal(pinned(wrapper), pinned(ci), name);
    }
  });

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    it(`the proxy it starts stops with ${signal} to the PID it started as: no orphan`, async () => {
      const run = start(["--port", "0"], { OPENAI_API_KEY: TEST_UPSTREAM_KEY });
      const port = await waitFor(
        "banner",
        () => run.output().match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1],
        run.exited,
      );
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      process.kill(run.pid, signal);
      await run.exited;
      // Whatever was serving is gone: the wrapper was the runtime itself, not its parent.
      await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
    });
  }
});

describe("lock files", () => {
  /** name → version of every npm package in deno.lock. */
  function denoVersions(): Map<string, string> {
    const lock = JSON.parse(readFileSync(join(repoRoot, "deno.lock"), "utf8")) as {
      npm: Record<string, unknown>;
    };
    return new Map(
      Object.keys(lock.npm).map((key) => {
        const at = key.indexOf("@", 1);
        return [key.slice(0, at), key.slice(at + 1).split("_")[0]!];
      }),
    );
  }
  /** name → version of every package in bun.lock (JSON with trailing commas). */
  function bunVersions(): Map<string, string> {
    const text = readFileSync(join(repoRoot, "bun.lock"), "utf8");
    const entries = [...text.matchAll(/^ {4}"([^"]+)": \["([^"]+)"/gm)];
    return new Map(entries.map((m) => [m[1]!, m[2]!.slice(m[2]!.indexOf("@", 1) + 1)]));
  }

  it("bun.lock and deno.lock resolve every package to the same version", () => {
    const deno = denoVersions();
    const bun = bunVersions();
    assert.ok(deno.size > 5);
    assert.deepEqual(
      [...bun].sort((a, b) => a[0].localeCompare(b[0])),
      [...deno].sort((a, b) => a[0].localeCompare(b[0])),
    );
  });
});
