/**
 * The `deno serve` / Deno Deploy entry (lib/runtime/deno_serve.ts) run with the real
 * `deno serve` on 127.0.0.1, through the API tests every platform entry must pass.
 */
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { appendFileSync } from "node:fs";
import { PLATFORM_VARS, platformApiSuite, type PlatformProxy } from "./helpers/platform_api.ts";
import { repoRoot } from "./helpers/proxy.ts";

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
/** Under Deno the running binary; under Bun the `deno` on PATH (.ci/run puts the pinned one there). */
const deno = isDeno ? process.execPath : "deno";

function denoServe(
  vars: Record<string, string>,
): PlatformProxy & { exited: Promise<number | null> } {
  const child = spawn(deno, [
    "serve",
    "--config",
    join(repoRoot, "deno.json"),
    "--allow-net",
    "--allow-env",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    join(repoRoot, "lib/runtime/deno_serve.ts"),
  ], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", ...vars },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const onData = (d: Buffer) => {
    out += d.toString();
    if (process.env.CCP_TEST_LOG) appendFileSync(process.env.CCP_TEST_LOG, d.toString());
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  exited.then(() => clearTimeout(timer));
  return {
    url: "",
    output: () => out,
    exited,
    close: async () => {
      try {
        process.kill(child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      await exited;
    },
  };
}

async function listening(p: ReturnType<typeof denoServe>): Promise<string> {
  let gone = false;
  p.exited.then(() => (gone = true));
  for (let i = 0; i < 600 && !gone; i++) {
    const m = p.output().match(/Listening on (http:\/\/127\.0\.0\.1:\d+)/);
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`deno serve did not start:\n${p.output()}`);
}

platformApiSuite("deno serve lib/runtime/deno_serve.ts", async (vars) => {
  const p = denoServe(vars);
  return { ...p, url: await listening(p) };
});

it("deno serve refuses to start without ANTHROPIC_API_KEY, naming it", async () => {
  const { ANTHROPIC_API_KEY: _, ...vars } = PLATFORM_VARS;
  const p = denoServe(vars);
  const code = await p.exited;
  assert.equal(code, 1);
  assert.match(p.output(), /^error: refusing to serve without ANTHROPIC_API_KEY/m);
  assert.doesNotMatch(p.output(), /\bat .*deno_serve\.ts/, "one line, no stack trace");
});
