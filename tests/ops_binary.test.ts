/**
 * Monitoring in the standalone binary (CCP_BINARY, built by .ci/run with bun build --compile):
 * the dashboard page and /metrics are inside it, the usage history is written with bun:sqlite,
 * and `usage` reads it back after the proxy stopped. Skipped without CCP_BINARY.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { completion, type FakeUpstream, startFakeUpstream } from "./helpers/fake_upstream.ts";
import { type ChildProxy, startProxyProcess, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";

const binary = process.env.CCP_BINARY;

describe("monitoring in the compiled binary", { skip: binary ? false : "set CCP_BINARY" }, () => {
  let upstream: FakeUpstream;
  let proxy: ChildProxy;
  let port: number;
  let dir: string;
  let db: string;

  before(async () => {
    upstream = await startFakeUpstream(() => ({
      json: completion({ content: "ok", usage: { prompt_tokens: 50, completion_tokens: 5 } }),
    }));
    dir = mkdtempSync(join(tmpdir(), "ccp-bin-ops-"));
    db = join(dir, "history", "usage.db");
    proxy = startProxyProcess(
      {
        OPENAI_API_KEY: TEST_UPSTREAM_KEY,
        OPENAI_BASE_URL: upstream.url,
        BIG_MODEL: "gpt-4o",
        PORT: "0",
        HOST: "127.0.0.1",
        USAGE_DB: db,
      },
      [],
      { binary, cwd: dir },
    );
    port = await proxy.listening;
  });

  after(async () => {
    proxy?.kill("SIGTERM");
    await proxy?.exited;
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the dashboard and /metrics, writes the history, and `usage` reads it", async () => {
    const page = await fetch(`http://127.0.0.1:${port}/ui`);
    assert.equal(page.status, 200);
    assert.ok((await page.text()).includes("claude-code-proxy"));
    const res = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-opus-4-5",
        max_tokens: 10,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    assert.equal(res.status, 200);
    await res.text();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /ccp_tokens_total\{model="default\/gpt-4o",kind="input"\} 50/);
    // The history is written at shutdown at the latest.
    proxy.kill("SIGTERM");
    assert.equal(await proxy.exited, 0);
    assert.ok(!proxy.output().includes("usage history unavailable"), proxy.output());
    const usage = spawnSync(binary!, ["usage"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", USAGE_DB: db },
      encoding: "utf8",
    });
    assert.equal(usage.status, 0, usage.stderr);
    // $0.000175, to two significant digits.
    assert.match(usage.stdout, /default\/gpt-4o\s+1\s+0\s+50\s+5\s+0\s+\$0\.0001[78]$/m);
  });
});
