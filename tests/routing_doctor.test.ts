/**
 * `doctor` with a routing file: every provider and every model the file names, in one table
 * per provider, each model asked for directly (its provider/model name), so that no fallback
 * hides a failure.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runDoctor } from "../lib/cli/doctor.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import { Health } from "../lib/routing/health.ts";
import { buildRouter } from "../lib/routing/load.ts";
import type { Fetch } from "../lib/upstreams/transport.ts";

const FILE = `{
  "providers": {
    "a": { "base_url": "http://127.0.0.1:9/v1", "api_key": "\${KA}", "models": ["fast"] },
    "b": { "base_url": "http://127.0.0.2:9/v1", "api_key": "\${KB}" },
    "idle": { "base_url": "http://127.0.0.3:9/v1" },
  },
  "models": { "opus": ["a/big", "b/big"] },
  "routes": [{ "if": { "images": true }, "to": ["b/vision"] }],
}`;

function chatAnswer(content: string, stream: boolean): Response {
  if (stream) {
    const chunk = (delta: unknown, finish: string | null) =>
      `data: ${
        JSON.stringify({ id: "c", choices: [{ index: 0, delta, finish_reason: finish }] })
      }\n\n`;
    return new Response(chunk({ content }, null) + chunk({}, "stop") + "data: [DONE]\n\n", {
      headers: { "content-type": "text/event-stream" },
    });
  }
  return Response.json({
    id: "c",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1, completion_tokens: 1 },
  });
}

describe("doctor with a routing file", () => {
  it("checks every named model of every provider, grouped by provider", async () => {
    const env = {
      KA: "ka-key-123456",
      KB: "kb-key-123456",
      CONFIG_FILE: "f.jsonc",
      MAX_RETRIES: "0",
    };
    const config = configFromEnv(env);
    const { router } = buildRouter(config, FILE, env, new Health(Date.now, false));
    const asked: string[] = [];
    const fetch: Fetch = (url, init) => {
      const body = JSON.parse(String(init.body)) as { model: string; stream?: boolean };
      asked.push(`${new URL(url).hostname} ${body.model}`);
      // Provider b is down: its models fail, and provider a's never fall back onto it.
      if (url.includes("127.0.0.2")) {
        return Promise.resolve(Response.json({ error: { message: "down" } }, { status: 500 }));
      }
      return Promise.resolve(chatAnswer("pong", body.stream === true));
    };
    const lines: string[] = [];
    const code = await runDoctor(config, fetch, (l) => lines.push(l), router);
    const out = lines.join("\n");
    assert.equal(code, 1, out);
    assert.match(out, /Checking a: http:\/\/127\.0\.0\.1:9\/v1 \(auto\)\n.*\nfast\s+plain\s+ok/);
    assert.match(out, /^big\s+plain\s+ok$/m);
    assert.match(out, /Checking b: http:\/\/127\.0\.0\.2:9\/v1 \(auto\)/);
    assert.doesNotMatch(out, /circuit open/);
    assert.match(out, /^vision\s+plain\s+FAIL 500: down$/m);
    assert.match(out, /Checking idle: .*no model named, nothing to check/);
    const models = new Set(asked.map((a) => a.split(" ")[1]));
    assert.deepEqual([...models].sort(), ["big", "fast", "vision"]);
    // a/big was checked on a only; b/big on b only.
    assert.ok(asked.includes("127.0.0.1 big") && asked.includes("127.0.0.2 big"));
  });
});
