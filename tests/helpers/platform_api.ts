/**
 * The API tests every platform entry must pass (Workers, `deno serve`): a streamed text answer
 * and a streamed tool call through the official SDK, an upstream error, auth, /health. The
 * entry is started by `start` in front of a scripted fake upstream on 127.0.0.1.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  type FakeUpstream,
  openaiError,
  type Reply,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./fake_upstream.ts";
import { TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./proxy.ts";

export type PlatformProxy = { url: string; output: () => string; close: () => Promise<void> };

/** The variables every platform run gets (the upstream's URL added by the suite). */
export const PLATFORM_VARS = {
  OPENAI_API_KEY: TEST_UPSTREAM_KEY,
  ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
  BIG_MODEL: "gpt-4o",
  SMALL_MODEL: "gpt-4o-mini",
  MAX_RETRIES: "0",
  LOG_LEVEL: "DEBUG",
};

export function platformApiSuite(
  name: string,
  start: (vars: Record<string, string>) => Promise<PlatformProxy>,
  opts: { skip?: string } = {},
) {
  describe(name, { skip: opts.skip }, () => {
    let upstream: FakeUpstream;
    let proxy: PlatformProxy;
    let next: Reply = { sse: textStream("Hello from the platform", { parts: 4 }) };
    let client: Anthropic;

    before(async () => {
      upstream = await startFakeUpstream(() => next);
      proxy = await start({ ...PLATFORM_VARS, OPENAI_BASE_URL: upstream.url });
      client = new Anthropic({ baseURL: proxy.url, apiKey: TEST_CLIENT_KEY, maxRetries: 0 });
    });
    after(async () => {
      await proxy?.close();
      await upstream?.close();
      const out = proxy?.output() ?? "";
      assert.ok(
        !out.includes(TEST_UPSTREAM_KEY) && !out.includes(TEST_CLIENT_KEY),
        "no key in logs",
      );
    });

    it("answers /health with the version", async () => {
      const res = await fetch(`${proxy.url}/health`);
      const body = await res.json() as { status: string; version: string };
      assert.equal(body.status, "ok");
      assert.match(body.version, /^\d+\.\d+\.\d+/);
    });

    it("streams a text answer through the SDK", async () => {
      next = { sse: textStream("Hello from the platform", { parts: 4 }) };
      const stream = client.messages.stream({
        model: "claude-sonnet-4-5",
        max_tokens: 100,
        messages: [{ role: "user", content: "hi" }],
      });
      const message = await stream.finalMessage();
      assert.equal(message.content.length, 1);
      const block = message.content[0]!;
      assert.ok(block.type === "text");
      assert.equal(block.text, "Hello from the platform");
      assert.equal(message.stop_reason, "end_turn");
      const sent = upstream.requests.at(-1)!;
      assert.equal(sent.body.model, "gpt-4o");
      assert.equal(sent.headers.authorization, `Bearer ${TEST_UPSTREAM_KEY}`);
    });

    it("streams a tool call through the SDK", async () => {
      next = {
        sse: toolCallStream([{ id: "call_1", name: "get_weather", args: '{"city":"Paris"}' }]),
      };
      const message = await client.messages.stream({
        model: "claude-haiku-4-5",
        max_tokens: 100,
        tools: [{
          name: "get_weather",
          input_schema: { type: "object", properties: { city: { type: "string" } } },
        }],
        messages: [{ role: "user", content: "Weather in Paris?" }],
      }).finalMessage();
      assert.equal(message.stop_reason, "tool_use");
      const tool = message.content.find((b) => b.type === "tool_use");
      assert.ok(tool && tool.type === "tool_use");
      assert.equal(tool.name, "get_weather");
      assert.deepEqual(tool.input, { city: "Paris" });
      assert.equal(upstream.requests.at(-1)!.body.model, "gpt-4o-mini");
    });

    it("passes an upstream error on as an Anthropic error", async () => {
      next = { status: 400, json: openaiError("the model rejected this request") };
      const err = await client.messages.create({
        model: "claude-sonnet-4-5",
        max_tokens: 100,
        messages: [{ role: "user", content: "hi" }],
      }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof Anthropic.BadRequestError, String(err));
      assert.match(err.message, /the model rejected this request/);
    });

    it("refuses a wrong key with a 401, before anything goes upstream", async () => {
      const before = upstream.requests.length;
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": "wrong-key-0000" },
        body: JSON.stringify({
          model: "claude-sonnet-4-5",
          max_tokens: 10,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      assert.equal(res.status, 401);
      const body = await res.json() as { error: { type: string } };
      assert.equal(body.error.type, "authentication_error");
      assert.equal(upstream.requests.length, before);
    });
  });
}
