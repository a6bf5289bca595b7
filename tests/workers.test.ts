/**
 * The Cloudflare Workers entry (lib/runtime/workers.ts, wrangler.jsonc) in the real Workers
 * runtime: `wrangler dev` runs it in workerd on 127.0.0.1, in front of the fake upstream, through
 * the API tests every platform entry must pass. Needs wrangler, which .ci/run installs into
 * .tools/ (CCP_WRANGLER names another); skipped, saying so, without it.
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type FakeUpstream, startFakeUpstream, textStream } from "./helpers/fake_upstream.ts";
import { PLATFORM_VARS, platformApiSuite, type PlatformProxy } from "./helpers/platform_api.ts";
import { TEST_CLIENT_KEY } from "./helpers/proxy.ts";
import { repoRoot } from "./helpers/proxy.ts";

const wrangler = process.env.CCP_WRANGLER ?? join(repoRoot, ".tools/node_modules/.bin/wrangler");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  await new Promise((r) => server.close(r));
  if (!address || typeof address !== "object") throw new Error("no port");
  return address.port;
}

async function wranglerDev(vars: Record<string, string>): Promise<PlatformProxy> {
  const dir = mkdtempSync(join(tmpdir(), "ccp-workers-"));
  // Secrets through an env file: wrangler prints bindings, hiding the values of these.
  const envFile = join(dir, ".dev.vars");
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(""));
  const port = await freePort();
  const child = spawn(wrangler, [
    "dev",
    "--config",
    join(repoRoot, "wrangler.jsonc"),
    "--env-file",
    envFile,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    "0",
    "--persist-to",
    join(dir, "state"),
    "--show-interactive-dev-session=false",
  ], {
    cwd: repoRoot,
    // Its own process group, so that closing stops wrangler's node and workerd children too.
    detached: true,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      NO_COLOR: "1",
      CI: "1",
      WRANGLER_SEND_METRICS: "false",
      WRANGLER_LOG_PATH: dir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const onData = (d: Buffer) => {
    out += d.toString();
    if (process.env.CCP_TEST_LOG) appendFileSync(process.env.CCP_TEST_LOG, d.toString());
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  let gone = false;
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => {
      gone = true;
      resolve();
    })
  );
  const close = async () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  // Ready once workerd answers; bounded at 60 s.
  for (let i = 0; i < 240 && !gone; i++) {
    if (/Ready on/.test(out)) {
      try {
        const res = await fetch(`${url}/health`);
        await res.body?.cancel();
        if (res.ok) return { url, output: () => out, close };
      } catch {
        // not yet
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await close();
  throw new Error(`wrangler dev did not start:\n${out}`);
}

platformApiSuite("Cloudflare Workers (wrangler dev, workerd)", wranglerDev, {
  skip: existsSync(wrangler) ? undefined : `no wrangler at ${wrangler} (bash .ci/run installs it)`,
});

describe("Cloudflare Workers: the platform's own behaviour", {
  skip: existsSync(wrangler) ? undefined : `no wrangler at ${wrangler} (bash .ci/run installs it)`,
}, () => {
  let upstream: FakeUpstream;
  let proxy: PlatformProxy;
  before(async () => {
    // A slow stream: 40 pieces 100 ms apart, so that the client can leave in the middle.
    upstream = await startFakeUpstream(() => ({
      sse: textStream("piece ".repeat(40), { parts: 40 }),
      gapMs: 100,
    }));
    proxy = await wranglerDev({ ...PLATFORM_VARS, OPENAI_BASE_URL: upstream.url });
  });
  after(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  it("logs an info line as info, not as an error", async () => {
    const res = await fetch(`${proxy.url}/health`);
    await res.body?.cancel();
    // wrangler prints the Worker's console a little after the answer: a bounded wait.
    for (let i = 0; i < 100 && !/INFO +request /.test(proxy.output()); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const lines = proxy.output().split("\n").filter((l) => /INFO +request /.test(l));
    assert.ok(lines.length > 0, proxy.output());
    for (const line of lines) assert.doesNotMatch(line, /ERROR\]/);
  });

  it("hears a client that leaves mid-stream: the request ends as 499 and is logged", async () => {
    const controller = new AbortController();
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      signal: controller.signal,
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 100,
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    // Bounded wait for the line: well before the 4 s the whole stream would take.
    for (let i = 0; i < 40 && !/status=499/.test(proxy.output()); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(proxy.output(), /INFO +request .*status=499/);
  });
});
