/**
 * Smoke test of the standalone binary (CCP_BINARY, built by .ci/run with bun build --compile):
 * start it, /health, one request against the fake upstream, a token count, stop. Skipped
 * without CCP_BINARY.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { completion, type FakeUpstream, startFakeUpstream } from "./helpers/fake_upstream.ts";
import { type ChildProxy, startProxyProcess, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import { checkDotenvReading } from "./helpers/dotenv_check.ts";

const binary = process.env.CCP_BINARY;

describe("compiled binary", { skip: binary ? false : "set CCP_BINARY to run" }, () => {
  let upstream: FakeUpstream;
  let proxy: ChildProxy;
  let port: number;

  before(async () => {
    upstream = await startFakeUpstream(() => ({
      json: completion({ content: "from the binary" }),
    }));
    // The binary reads .env from its working directory, like `deno run main.ts`.
    const cwd = mkdtempSync(join(tmpdir(), "ccp-bin-"));
    writeFileSync(join(cwd, ".env"), `OPENAI_BASE_URL=${upstream.url}\nBIG_MODEL=env-file-model\n`);
    proxy = startProxyProcess(
      { OPENAI_API_KEY: TEST_UPSTREAM_KEY, PORT: "0", HOST: "127.0.0.1" },
      [],
      { binary, cwd },
    );
    port = await proxy.listening;
  });

  after(async () => {
    proxy?.kill("SIGTERM");
    const code = await proxy?.exited;
    await upstream?.close();
    assert.equal(code, 0, "exits 0 on SIGTERM");
  });

  it("answers /health", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "ok");
  });

  it("proxies one request using .env from its working directory", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-opus-4-1",
        max_tokens: 10,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.content[0].text, "from the binary");
    assert.equal(body.model, "claude-opus-4-1");
    assert.equal(upstream.requests[0]?.body.model, "env-file-model");
  });

  it("reads .env as the proxy does, never as Bun would: --env-file wins, no $ expansion", async () => {
    await checkDotenvReading(binary);
  });

  it("counts tokens with the tokenizer chunk embedded in the binary", async () => {
    // Built with --splitting, the BPE tables are a separate chunk loaded on first count.
    const res = await fetch(`http://127.0.0.1:${port}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-opus-4-1",
        messages: [{ role: "user", content: "hello world, how are you today?" }],
      }),
    });
    assert.equal(res.status, 200);
    const { input_tokens } = await res.json();
    assert.ok(input_tokens > 5 && input_tokens < 30, `input_tokens ${input_tokens}`);
  });
});
