/**
 * Routes and authentication, as a client sees them: the official SDK and raw fetch against a
 * real proxy in front of a fake upstream.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { completion, textStream } from "./helpers/fake_upstream.ts";
import { TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import { assertAnthropicError, body, type Harness, postJson, startHarness } from "./api_support.ts";

describe("endpoints", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("POST /v1/messages answers a non-streaming request with a message", async () => {
    h.reply({ json: completion({ content: "Hi there" }) });
    const msg = await h.client.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello" }],
    });
    assert.equal(msg.type, "message");
    assert.deepEqual(msg.content, [{ type: "text", text: "Hi there" }]);
  });

  it("POST /v1/messages streams when asked", async () => {
    h.reply({ sse: textStream("Hi there") });
    const stream = h.client.messages.stream({
      model: "claude-sonnet-4-6",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello" }],
    });
    const msg = await stream.finalMessage();
    assert.deepEqual(msg.content, [{ type: "text", text: "Hi there" }]);
  });

  it("POST /v1/messages/count_tokens answers {input_tokens: n > 0} without calling upstream", async () => {
    const before = h.upstream.requests.length;
    const count = await h.client.messages.countTokens({
      model: "claude-sonnet-4-6",
      messages: [{ role: "user", content: "How many tokens is this sentence?" }],
    });
    assert.deepEqual(Object.keys(count), ["input_tokens"]);
    assert.ok(Number.isInteger(count.input_tokens) && count.input_tokens > 0);
    assert.equal(h.upstream.requests.length, before);
  });

  it("GET /health answers 200 JSON", async () => {
    const res = await fetch(`${h.proxy.url}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    assert.equal(typeof (await res.json()), "object");
  });

  it("GET / answers JSON", async () => {
    const res = await fetch(`${h.proxy.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    assert.equal(typeof (await res.json()), "object");
  });

  it("HEAD / answers 200 with no body", async () => {
    const res = await fetch(`${h.proxy.url}/`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "");
  });

  it("an SDK whose baseURL ends in /v1 (so it calls /v1/v1/messages) works", async () => {
    h.reply({ json: completion({ content: "doubled" }) });
    const client = new Anthropic({ baseURL: `${h.proxy.url}/v1`, apiKey: "k", maxRetries: 0 });
    const msg = await client.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello" }],
    });
    assert.deepEqual(msg.content, [{ type: "text", text: "doubled" }]);
    const count = await client.messages.countTokens({
      model: "claude-sonnet-4-6",
      messages: [{ role: "user", content: "Hello" }],
    });
    assert.ok(count.input_tokens > 0);
  });

  it("ignores the ?beta=true query the SDK's beta namespace adds", async () => {
    h.reply({ json: completion({ content: "beta" }) });
    const msg = await h.client.beta.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello" }],
    });
    assert.deepEqual(msg.content, [{ type: "text", text: "beta" }]);
    const res = await postJson(`${h.proxy.url}/v1/messages/count_tokens?beta=true`, body());
    assert.equal(res.status, 200);
    assert.ok((await res.json()).input_tokens > 0);
  });

  for (const path of ["/v1/complete", "/nope", "/v1/messagesx", "/v2/messages"]) {
    it(`unknown path ${path} → 404 not_found_error`, async () => {
      const res = await postJson(`${h.proxy.url}${path}`, body());
      await assertAnthropicError(res, 404, "not_found_error");
    });
  }

  it("GET /nope → 404 not_found_error", async () => {
    await assertAnthropicError(await fetch(`${h.proxy.url}/nope`), 404, "not_found_error");
  });

  for (
    const [method, path] of [["GET", "/v1/messages"], ["PUT", "/v1/messages"], [
      "GET",
      "/v1/messages/count_tokens",
    ], ["DELETE", "/v1/messages"]] as const
  ) {
    it(`${method} ${path} answers an Anthropic-shaped error, not a bare 405`, async () => {
      const res = await fetch(`${h.proxy.url}${path}`, { method, headers: { "x-api-key": "k" } });
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
      const text = await res.text();
      const parsed = JSON.parse(text);
      assert.equal(parsed.type, "error");
      assert.match(parsed.error.type, /^(invalid_request_error|not_found_error)$/);
      assert.ok(parsed.error.message.includes("POST"), `says which method to use: ${text}`);
    });
  }
});

describe("authentication with ANTHROPIC_API_KEY set", () => {
  const KEY = "proxy-secret-key-for-clients-0001";
  let h: Harness;
  before(async () => {
    h = await startHarness({ ANTHROPIC_API_KEY: KEY });
    h.reply({ json: completion({ content: "ok" }) });
  });
  after(() => h.close());

  it("accepts the key in x-api-key (the SDK's way)", async () => {
    const msg = await h.client.messages.create(body() as never);
    assert.equal(msg.type, "message");
  });

  it("accepts the key as Authorization: Bearer", async () => {
    const client = new Anthropic({
      baseURL: h.proxy.url,
      authToken: KEY,
      apiKey: null,
      maxRetries: 0,
    });
    const msg = await client.messages.create(body() as never);
    assert.equal(msg.type, "message");
    const res = await fetch(`${h.proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify(body()),
    });
    assert.equal(res.status, 200);
  });

  it("accepts the key in either header when both are sent (Claude Code with both variables set)", async () => {
    for (
      const headers of [
        { "x-api-key": "sk-ant-some-other-key", authorization: `Bearer ${KEY}` },
        { "x-api-key": KEY, authorization: "Bearer some-other-token" },
      ]
    ) {
      const res = await fetch(`${h.proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body()),
      });
      assert.equal(res.status, 200, JSON.stringify(headers));
      await res.body?.cancel();
    }
  });

  const wrong: [string, Record<string, string>][] = [
    ["no key", {}],
    ["two wrong keys", { "x-api-key": "wrong", authorization: "Bearer nope" }],
    ["a wrong x-api-key", { "x-api-key": "wrong" }],
    ["the key with a suffix", { "x-api-key": `${KEY}x` }],
    ["a prefix of the key", { "x-api-key": KEY.slice(0, -1) }],
    ["a wrong bearer", { authorization: "Bearer nope" }],
    ["the key without Bearer", { authorization: KEY }],
  ];
  for (const [name, headers] of wrong) {
    it(`${name} → 401 authentication_error, and the upstream is not called`, async () => {
      const before = h.upstream.requests.length;
      const res = await fetch(`${h.proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body()),
      });
      await assertAnthropicError(res, 401, "authentication_error");
      assert.equal(h.upstream.requests.length, before);
    });
  }

  // Claude Code sends both headers when ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are both set
  // (checked with the CLI): often a real Anthropic key beside the proxy's token.
  for (
    const [name, headers] of [
      ["x-api-key wrong, Bearer right", {
        "x-api-key": "sk-ant-other",
        authorization: `Bearer ${KEY}`,
      }],
      ["x-api-key right, Bearer wrong", { "x-api-key": KEY, authorization: "Bearer other-token" }],
    ] as [string, Record<string, string>][]
  ) {
    it(`accepts the key in either header when both are sent (${name})`, async () => {
      const res = await fetch(`${h.proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body()),
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    });
  }

  it("the 401 message says how to send the key, legibly", async () => {
    const res = await fetch(`${h.proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body()),
    });
    const message = await assertAnthropicError(res, 401, "authentication_error");
    assert.ok(!message.includes("REDACTED"), message);
    assert.match(message, /x-api-key/);
    assert.match(message, /Bearer/);
  });

  it("count_tokens is protected too", async () => {
    const res = await postJson(`${h.proxy.url}/v1/messages/count_tokens`, body(), {
      "x-api-key": "wrong",
    });
    await assertAnthropicError(res, 401, "authentication_error");
  });

  it("the SDK sees an AuthenticationError for a wrong key", async () => {
    const client = new Anthropic({ baseURL: h.proxy.url, apiKey: "wrong", maxRetries: 0 });
    await assert.rejects(client.messages.create(body() as never), Anthropic.AuthenticationError);
  });

  it("never forwards the client's key: the upstream sees only Bearer OPENAI_API_KEY", async () => {
    const before = h.upstream.requests.length;
    await h.client.messages.create(body() as never);
    await fetch(`${h.proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify(body()),
    });
    const seen = h.upstream.requests.slice(before);
    assert.equal(seen.length, 2);
    for (const r of seen) {
      assert.equal(r.headers["authorization"], `Bearer ${TEST_UPSTREAM_KEY}`);
      assert.equal(r.headers["x-api-key"], undefined);
      assert.ok(!JSON.stringify(r.headers).includes(KEY), "client key in upstream headers");
      assert.ok(!r.rawBody.includes(KEY), "client key in upstream body");
    }
  });
});

describe("authentication without ANTHROPIC_API_KEY", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    h.reply({ json: completion({ content: "ok" }) });
  });
  after(() => h.close());

  for (
    const [name, headers] of [
      ["any x-api-key", { "x-api-key": "whatever" }],
      ["any bearer", { authorization: "Bearer whatever" }],
      ["no key at all", {}],
    ] as [string, Record<string, string>][]
  ) {
    it(`accepts ${name}`, async () => {
      const res = await fetch(`${h.proxy.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body()),
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    });
  }

  it("does not forward the client's key upstream", async () => {
    await h.client.messages.create(body() as never);
    const r = h.lastRequest();
    assert.equal(r.headers["authorization"], `Bearer ${TEST_UPSTREAM_KEY}`);
    assert.equal(r.headers["x-api-key"], undefined);
    assert.ok(!JSON.stringify(r.headers).includes(TEST_CLIENT_KEY));
  });
});
