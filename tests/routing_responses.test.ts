/**
 * A routing file whose chain falls back from a Chat Completions provider to one that speaks the
 * OpenAI Responses API, and a provider left on `api: "auto"` (the default) that sends a
 * Responses-only model there without being told, driven by the official SDK.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { type FakeUpstream, openaiError, startFakeUpstream } from "./helpers/fake_upstream.ts";
import { type RoutingProxy, startRoutingProxy } from "./helpers/routing_proxy.ts";
import { responseStream } from "./helpers/responses_fake.ts";

let chat: FakeUpstream;
let resp: FakeUpstream;
let proxy: RoutingProxy;

before(async () => {
  chat = await startFakeUpstream(() => ({
    status: 529,
    json: openaiError("busy", "overloaded_error"),
  }));
  resp = await startFakeUpstream(() =>
    responseStream([{ type: "message", text: "from responses" }], {
      usage: { input: 12, output: 3 },
    })
  );
  proxy = startRoutingProxy(`{
    "providers": {
      "chatp": { "base_url": "${chat.url}", "api": "chat", "api_key": "\${KEY_A}" },
      "resp": { "base_url": "${resp.url}", "api": "responses", "api_key": "\${KEY_A}" },
      "auto": { "base_url": "${resp.url}", "profile": "openai", "api_key": "\${KEY_A}" },
    },
    "models": { "opus": ["chatp/gpt-x", "resp/gpt-5"] },
  }`);
});
after(async () => {
  await proxy.close();
  await Promise.all([chat.close(), resp.close()]);
});

describe("routing file with Responses API providers", () => {
  it("falls back from a 529 on Chat Completions to a Responses provider", async () => {
    const client = new Anthropic({ baseURL: proxy.url, apiKey: "any", maxRetries: 0 });
    const message = await client.messages.stream({
      model: "claude-opus-4-1",
      max_tokens: 100,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    assert.equal(message.model, "claude-opus-4-1");
    assert.deepEqual(message.content, [{ type: "text", text: "from responses" }]);
    assert.equal(chat.requests.at(-1)?.path, "/v1/chat/completions");
    const sent = resp.requests.at(-1)!;
    assert.equal(sent.path, "/v1/responses");
    assert.equal(sent.body.model, "gpt-5");
    assert.equal(sent.body.store, false);
  });

  it("api auto (the default) sends a Responses-only model through the Responses API", async () => {
    const before = resp.requests.length;
    const client = new Anthropic({ baseURL: proxy.url, apiKey: "any", maxRetries: 0 });
    const message = await client.messages.stream({
      model: "auto/gpt-5-codex",
      max_tokens: 100,
      messages: [{ role: "user", content: "hi" }],
    }).finalMessage();
    assert.deepEqual(message.content, [{ type: "text", text: "from responses" }]);
    assert.equal(resp.requests.length, before + 1);
    assert.equal(resp.requests.at(-1)?.path, "/v1/responses");
    assert.equal(resp.requests.at(-1)?.body.model, "gpt-5-codex");
  });
});
