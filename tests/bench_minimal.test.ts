/**
 * The benchmark's minimal proxy (bench/minimal_proxy.ts) is the floor every run compares the
 * proxy with: it must give correct answers, or the comparison means nothing. Run as a child
 * process under the runtime running the tests, against the scripted fake upstream, with the
 * Anthropic SDK as the client.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import {
  completion,
  type FakeUpstream,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import { repoRoot } from "./helpers/proxy.ts";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

describe("bench/minimal_proxy.ts", () => {
  let up: FakeUpstream;
  let pid: number | undefined;
  let client: Anthropic;

  before(async () => {
    up = await startFakeUpstream([
      {
        sse: textStream("Hello from the floor.", {
          usage: { prompt_tokens: 30, completion_tokens: 5, cached_tokens: 10 },
        }),
      },
      {
        sse: toolCallStream([{ id: "call_1", name: "Write", args: '{"path":"/tmp/a","n":1}' }], {
          text: "Writing.",
        }),
      },
      { json: completion({ content: "Not streamed." }) },
    ]);
    const port = await freePort();
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
    const script = join(repoRoot, "bench", "minimal_proxy.ts");
    const child = spawn(process.execPath, isBun ? [script] : ["run", "-A", script], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        OPENAI_BASE_URL: up.url,
        OPENAI_API_KEY: "sk-minimal",
        HOST: "127.0.0.1",
        PORT: String(port),
        BIG_MODEL: "gpt-4o",
        SMALL_MODEL: "gpt-4o-mini",
      },
      stdio: "ignore",
    });
    pid = child.pid;
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 150; i++) {
      try {
        if ((await fetch(`${url}/health`)).ok) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    client = new Anthropic({ baseURL: url, apiKey: "unused", maxRetries: 0 });
  });

  after(async () => {
    if (pid !== undefined) process.kill(pid, "SIGKILL");
    await up.close();
  });

  it("streams text with the upstream's usage", async () => {
    const final = await client.messages.stream({
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      system: [{ type: "text", text: "Be brief." }],
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    assert.deepEqual(final.content, [{ type: "text", text: "Hello from the floor." }]);
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(final.usage.input_tokens, 20);
    assert.equal(final.usage.output_tokens, 5);
    const sent = up.requests[0]!.body;
    assert.equal(sent.model, "gpt-4o");
    assert.deepEqual(sent.messages[0], { role: "system", content: "Be brief." });
    assert.deepEqual(sent.stream_options, { include_usage: true });
  });

  it("streams a tool call after text", async () => {
    const final = await client.messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 100,
      tools: [{ name: "Write", input_schema: { type: "object" } }],
      messages: [{ role: "user", content: "write it" }],
    }).finalMessage();
    assert.equal(final.stop_reason, "tool_use");
    assert.deepEqual(final.content, [
      { type: "text", text: "Writing." },
      { type: "tool_use", id: "call_1", name: "Write", input: { path: "/tmp/a", n: 1 } },
    ]);
    const sent = up.requests[1]!.body;
    assert.equal(sent.model, "gpt-4o-mini");
    assert.equal(sent.tools[0].function.name, "Write");
  });

  it("answers a request without streaming", async () => {
    const message = await client.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      messages: [{ role: "user", content: "hi" }],
    });
    assert.deepEqual(message.content, [{ type: "text", text: "Not streamed." }]);
    assert.equal(message.stop_reason, "end_turn");
  });
});
