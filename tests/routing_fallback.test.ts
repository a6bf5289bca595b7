/**
 * Several fake upstreams at once (OpenAI-style and Anthropic-style) behind one proxy with a
 * routing file: fallback on each kind of fault, never after the first byte, never on a bad
 * request; key pools; the circuit breaker; the echoed model name, the answering-upstream
 * header and the request log; explicit provider/model; /v1/models; the official SDK.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  completion,
  type FakeUpstream,
  openaiError,
  type Reply,
  type Script,
  startFakeUpstream,
  textStream,
  toolCallStream,
} from "./helpers/fake_upstream.ts";
import {
  anthropicMessage,
  anthropicSse,
  closedPortUrl,
  requestLines,
  type RoutingProxy,
  startRoutingProxy,
} from "./helpers/routing_proxy.ts";
import { startProxy, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import { searchEnv, startSearchFake } from "./helpers/search_fakes.ts";
import { ProxyError } from "../lib/anthropic/errors.ts";
import { keyRestMs } from "../lib/server/fallback.ts";

const KEY_B = "sk-test-second-key-abcdefabcdef0123";

let main: FakeUpstream;
let spare: FakeUpstream;
let anth: FakeUpstream;
let mainScript: Script;
let spareScript: Script;
let anthScript: Script;
let deadUrl: string;
const proxies: RoutingProxy[] = [];

const ok = (text: string): Script => (req) =>
  req.body?.stream
    ? { sse: textStream(text, { parts: 1 }) }
    : { json: completion({ content: text }) };

before(async () => {
  main = await startFakeUpstream((r, i) => mainScript(r, i));
  spare = await startFakeUpstream((r, i) => spareScript(r, i));
  anth = await startFakeUpstream((r, i) => anthScript(r, i));
  deadUrl = await closedPortUrl();
});
after(async () => {
  for (const p of proxies) await p.close();
  await Promise.all([main.close(), spare.close(), anth.close()]);
});
beforeEach(() => {
  main.requests.length = 0;
  spare.requests.length = 0;
  anth.requests.length = 0;
  mainScript = ok("from main");
  spareScript = ok("from spare");
  anthScript = (req) =>
    req.body?.stream
      ? { sse: anthropicSse("from anth"), done: false }
      : { json: anthropicMessage("from anth") };
});

function fileText(opts: {
  mainUrl?: string;
  mainExtra?: string;
  opus?: string[];
  fallback?: string;
} = {}): string {
  return `{
    // the test's providers
    "providers": {
      "main": { "base_url": "${opts.mainUrl ?? main.url}", "api_key": "\${KEY_A}",
                "models": ["gpt-5", "m1"], ${opts.mainExtra ?? ""} },
      "spare": { "base_url": "${spare.url}", "api_key": "\${KEY_A}", "models": ["m2"] },
      "anth": { "base_url": "${anth.origin}", "api": "anthropic", "api_key": "\${KEY_A}" },
    },
    "models": {
      "opus": ${JSON.stringify(opts.opus ?? ["main/m1", "spare/m2"])},
      "haiku": ["anth/small-one", "spare/m2"],
    },
    "routes": [ { "if": { "model": "*thinker*" }, "to": "anth/deep" } ],
    ${opts.fallback ?? ""}
  }`;
}

function proxy(text = fileText(), now?: () => number): RoutingProxy {
  const p = startRoutingProxy(text, { KEY_B }, now);
  proxies.push(p);
  return p;
}

async function post(p: RoutingProxy, body: Record<string, unknown>, headers = {}) {
  const res = await fetch(`${p.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      max_tokens: 100,
      messages: [{ role: "user", content: "hello" }],
      ...body,
    }),
  });
  return { res, text: await res.text() };
}

const overloaded: Reply = { status: 529, json: openaiError("busy", "overloaded_error") };

describe("the x-ccp-upstream header", () => {
  for (const stream of [false, true]) {
    it(`names a model outside Latin-1 percent-encoded${stream ? " (stream)" : ""}`, async () => {
      const p = proxy();
      const { res, text } = await post(p, { model: "main/gpt-模型-ü", stream });
      assert.equal(res.status, 200, text);
      assert.equal(res.headers.get("x-ccp-upstream"), "main/gpt-%E6%A8%A1%E5%9E%8B-%C3%BC");
      assert.equal(main.requests.at(-1)!.body.model, "gpt-模型-ü");
      // One request, one log line: the answer did not fail after it was logged.
      assert.equal(requestLines(p.logs).length, 1);
      assert.equal(requestLines(p.logs)[0]!.status, 200);
    });
  }
});

describe("fallback along a chain", () => {
  it("moves on after a 529, and the answer names the client's model and the upstream", async () => {
    mainScript = () => overloaded;
    const p = proxy();
    const { res, text } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text);
    assert.equal(body.model, "claude-opus-4-1");
    assert.equal(body.content[0].text, "from spare");
    assert.equal(res.headers.get("x-ccp-upstream"), "spare/m2");
    assert.equal(main.requests.length, 1);
    assert.equal(main.requests[0]!.body.model, "m1");
    assert.equal(spare.requests[0]!.body.model, "m2");
    const line = requestLines(p.logs).at(-1)!;
    assert.equal(line.upstream, "spare/m2");
    assert.equal(line.attempts, "main/m1: 529 overloaded_error");
    assert.equal(line.route, "models.opus: main/m1 → spare/m2");
  });

  for (const stream of [false, true]) {
    it(`moves on the same way when the proxy runs web search for the request${stream ? " (stream)" : ""}`, async () => {
      const search = await startSearchFake("searxng");
      try {
        mainScript = () => ({ status: 500, json: openaiError("boom", "server_error") });
        const p = startRoutingProxy(fileText(), { KEY_B, ...searchEnv("searxng", search) });
        proxies.push(p);
        const { res, text } = await post(p, {
          model: "claude-opus-4-1",
          stream,
          tools: [{ type: "web_search_20250305", name: "web_search" }],
        });
        assert.equal(res.status, 200, text);
        assert.match(text, /from spare/);
        assert.equal(res.headers.get("x-ccp-upstream"), "spare/m2");
        assert.equal(main.requests.length, 1);
        assert.equal(requestLines(p.logs).at(-1)!.attempts, "main/m1: 500 api_error");
      } finally {
        await search.close();
      }
    });
  }

  it("moves on after a refused connection", async () => {
    const p = proxy(fileText({ mainUrl: deadUrl }));
    const { res, text } = await post(p, { model: "claude-opus-4-1", stream: true });
    assert.equal(res.status, 200);
    assert.match(text, /from spare/);
    assert.equal(res.headers.get("x-ccp-upstream"), "spare/m2");
    assert.match(String(requestLines(p.logs).at(-1)!.attempts), /main\/m1: 502 api_error/);
  });

  for (const stream of [true, false]) {
    it(`moves on when the upstream hangs before its headers (${stream ? "" : "not "}streamed)`, async () => {
      mainScript = () => ({ stall: true });
      const p = proxy(fileText({
        mainExtra: `"first_byte_timeout_s": 0.3, "nonstream_first_byte_timeout_s": 0.3`,
      }));
      const { res, text } = await post(p, { model: "claude-opus-4-1", stream });
      assert.equal(res.status, 200, text);
      assert.match(text, /from spare/);
      assert.match(String(requestLines(p.logs).at(-1)!.attempts), /main\/m1: 504 timeout_error/);
    });

    it(`names the file's first-byte timeout setting when it gives the answer (${stream ? "" : "not "}streamed)`, async () => {
      mainScript = () => ({ stall: true });
      const p = proxy(fileText({
        opus: ["main/m1"],
        mainExtra: `"first_byte_timeout_s": 0.3, "nonstream_first_byte_timeout_s": 0.3`,
      }));
      const { res, text } = await post(p, { model: "claude-opus-4-1", stream });
      assert.equal(res.status, 504, text);
      const setting = stream ? "first_byte_timeout_s" : "nonstream_first_byte_timeout_s";
      assert.match(
        JSON.parse(text).error.message,
        new RegExp(`\\(providers\\.main\\.${setting}\\)`),
      );
    });
  }

  for (
    const [stream, extra, setting] of [
      [false, `"request_timeout_s": 0.4`, "request_timeout_s"],
      [true, `"request_timeout_s": 0.4`, "request_timeout_s"],
      [true, `"stream_idle_timeout_s": 0.3`, "stream_idle_timeout_s"],
    ] as const
  ) {
    it(`names the file's ${setting} when it cuts the answer (${stream ? "" : "not "}streamed)`, async () => {
      // The answer starts, then nothing more comes.
      mainScript = () => ({
        sse: textStream("partial", { parts: 1 }).slice(0, 2),
        done: false,
        stallAfter: true,
      });
      const p = proxy(fileText({ opus: ["main/m1"], mainExtra: extra }));
      const { res, text } = await post(p, { model: "claude-opus-4-1", stream });
      const message = stream
        ? JSON.parse(text.split("event: error\ndata: ")[1]!.split("\n")[0]!).error.message
        : JSON.parse(text).error.message;
      assert.equal(res.status, stream ? 200 : 504, text);
      assert.match(message, new RegExp(`\\(providers\\.main\\.${setting}\\)`));
    });
  }

  it("moves on after a 500 and after a context overflow", async () => {
    const p = proxy();
    mainScript = () => ({ status: 500, json: openaiError("boom", "server_error") });
    assert.match((await post(p, { model: "claude-opus-4-1" })).text, /from spare/);
    mainScript = () => ({
      status: 400,
      json: openaiError(
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        "invalid_request_error",
        "context_length_exceeded",
      ),
    });
    const { res, text } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 200);
    assert.match(text, /from spare/);
    assert.match(String(requestLines(p.logs).at(-1)!.attempts), /400 invalid_request_error/);
  });

  it("does not move on after another 4xx: a bad request stays a bad request", async () => {
    mainScript = () => ({ status: 400, json: openaiError("bad tool schema") });
    const p = proxy();
    const { res, text } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 400);
    assert.match(text, /bad tool schema/);
    assert.equal(spare.requests.length, 0);
    assert.equal(res.headers.get("x-ccp-upstream"), "main/m1");
  });

  it("does not move on once the stream has started: the failure is an event: error", async () => {
    mainScript = () => ({
      sse: textStream("partial answer", { usage: null }).slice(0, 2),
      resetAfter: true,
    });
    const p = proxy();
    const { res, text } = await post(p, { model: "claude-opus-4-1", stream: true });
    assert.equal(res.status, 200);
    assert.match(text, /event: message_start/);
    assert.match(text, /event: error/);
    assert.equal(spare.requests.length, 0);
  });

  it("gives the client the last entry's failure, Retry-After and x-should-retry kept", async () => {
    mainScript = () => overloaded;
    spareScript = () => ({
      status: 429,
      headers: { "retry-after": "7" },
      json: openaiError("slow down", "rate_limit_error"),
    });
    const p = proxy();
    const { res, text } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 429);
    assert.equal(JSON.parse(text).error.type, "rate_limit_error");
    assert.equal(res.headers.get("retry-after"), "7");
    assert.equal(res.headers.get("x-should-retry"), "true");
    assert.equal(res.headers.get("x-ccp-upstream"), "spare/m2");
  });

  it("follows the fallback.on list: a cause left out ends the request", async () => {
    mainScript = () => overloaded;
    const p = proxy(fileText({ fallback: `"fallback": { "on": ["429"] },` }));
    const { res } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 529);
    assert.equal(spare.requests.length, 0);
  });

  it("retries on the entry itself a failure that fallback.on does not hand on", async () => {
    mainScript = (_req, i) =>
      i === 0
        ? { status: 500, json: openaiError("boom", "server_error") }
        : ok("from main")(_req, i);
    const p = proxy(fileText({
      mainExtra: `"max_retries": 1`,
      fallback: `"fallback": { "on": ["connect"] },`,
    }));
    const { res, text } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 200, text);
    assert.match(text, /from main/);
    assert.equal(main.requests.length, 2);
    assert.equal(spare.requests.length, 0);
  });
});

describe("key pools", () => {
  it("uses the keys round-robin and rests a key that got 429 for its Retry-After", async () => {
    let now = 1_000_000;
    const p = proxy(
      fileText({
        mainExtra: `"api_key": undefined`.replace(`"api_key": undefined`, `"max_retries": 0`),
      }).replace(
        `"main": { "base_url": "${main.url}", "api_key": "\${KEY_A}",`,
        `"main": { "base_url": "${main.url}", "api_keys": ["\${KEY_A}", "\${KEY_B}"],`,
      ),
      () => now,
    );
    await post(p, { model: "claude-opus-4-1" });
    await post(p, { model: "claude-opus-4-1" });
    const keys = main.requests.map((r) => r.headers.authorization);
    assert.deepEqual(keys, [`Bearer ${TEST_UPSTREAM_KEY}`, `Bearer ${KEY_B}`]);

    // Key A gets a 429: the same request goes on with key B, on the same provider.
    main.requests.length = 0;
    mainScript = (req) =>
      req.headers.authorization === `Bearer ${TEST_UPSTREAM_KEY}`
        ? {
          status: 429,
          headers: { "retry-after": "20" },
          json: openaiError("rate", "rate_limit_error"),
        }
        : { json: completion({ content: "from main with B" }) };
    const first = await post(p, { model: "claude-opus-4-1" });
    assert.match(first.text, /from main with B/);
    assert.equal(main.requests.length, 2);
    assert.equal(spare.requests.length, 0);

    // While A rests, only B is used; after 20 s A is back.
    main.requests.length = 0;
    await post(p, { model: "claude-opus-4-1" });
    await post(p, { model: "claude-opus-4-1" });
    assert.deepEqual(main.requests.map((r) => r.headers.authorization), [
      `Bearer ${KEY_B}`,
      `Bearer ${KEY_B}`,
    ]);
    now += 21_000;
    main.requests.length = 0;
    mainScript = ok("fine");
    await post(p, { model: "claude-opus-4-1" });
    await post(p, { model: "claude-opus-4-1" });
    assert.ok(main.requests.some((r) => r.headers.authorization === `Bearer ${TEST_UPSTREAM_KEY}`));
  });

  it("after a 429 on the chain's last entry, sends with the next key at once, not after Retry-After", async () => {
    mainScript = (req) =>
      req.headers.authorization === `Bearer ${TEST_UPSTREAM_KEY}`
        ? {
          status: 429,
          headers: { "retry-after": "1" },
          json: openaiError("rate", "rate_limit_error"),
        }
        : { json: completion({ content: "from main with B" }) };
    const p = proxy(
      fileText({ opus: ["main/m1"], mainExtra: `"max_retries": 2` }).replace(
        `"main": { "base_url": "${main.url}", "api_key": "\${KEY_A}",`,
        `"main": { "base_url": "${main.url}", "api_keys": ["\${KEY_A}", "\${KEY_B}"],`,
      ),
    );
    const { res, text } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 200, text);
    assert.match(text, /from main with B/);
    assert.deepEqual(main.requests.map((r) => r.headers.authorization), [
      `Bearer ${TEST_UPSTREAM_KEY}`,
      `Bearer ${KEY_B}`,
    ]);
    // Key A's Retry-After was not waited out, though retries are allowed.
    assert.equal(p.logs.filter((l) => l.includes("upstream error, retrying")).length, 0);
  });

  it("retries a 429 on the pool's only free key, since no other key can take the request", async () => {
    let bCalls = 0;
    mainScript = (req) => {
      if (req.headers.authorization === `Bearer ${TEST_UPSTREAM_KEY}`) {
        return { status: 429, headers: { "retry-after": "1" }, json: openaiError("A", "rate") };
      }
      return ++bCalls === 2
        ? { status: 429, headers: { "retry-after": "1" }, json: openaiError("B", "rate") }
        : { json: completion({ content: "from main with B" }) };
    };
    const p = proxy(
      fileText({ opus: ["main/m1"], mainExtra: `"max_retries": 2` }).replace(
        `"main": { "base_url": "${main.url}", "api_key": "\${KEY_A}",`,
        `"main": { "base_url": "${main.url}", "api_keys": ["\${KEY_A}", "\${KEY_B}"],`,
      ),
    );
    assert.equal((await post(p, { model: "claude-opus-4-1" })).res.status, 200);
    // Key A rests now: B's 429 is retried on B after its Retry-After.
    const second = await post(p, { model: "claude-opus-4-1" });
    assert.equal(second.res.status, 200, second.text);
    assert.deepEqual(main.requests.map((r) => r.headers.authorization), [
      `Bearer ${TEST_UPSTREAM_KEY}`,
      `Bearer ${KEY_B}`,
      `Bearer ${KEY_B}`,
      `Bearer ${KEY_B}`,
    ]);
  });

  it("tries the next key after a 401, and a 401 on every key stays a 401", async () => {
    mainScript = () => ({ status: 401, json: openaiError("bad key", "invalid_api_key") });
    const p = proxy(
      fileText().replace(
        `"main": { "base_url": "${main.url}", "api_key": "\${KEY_A}",`,
        `"main": { "base_url": "${main.url}", "api_keys": ["\${KEY_A}", "\${KEY_B}"],`,
      ),
    );
    const { res } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 401);
    assert.equal(main.requests.length, 2, "both keys tried");
    assert.equal(spare.requests.length, 0, "a bad key is not a reason to fall back");
    // Both keys now rest: the chain moves on without asking main.
    const next = await post(p, { model: "claude-opus-4-1" });
    assert.match(next.text, /from spare/);
    assert.equal(main.requests.length, 2);
  });

  it("uses the pool's keys round-robin for requests the proxy runs web search for", async () => {
    const search = await startSearchFake("searxng");
    try {
      const p = startRoutingProxy(
        fileText({ opus: ["main/m1"] }).replace(
          `"main": { "base_url": "${main.url}", "api_key": "\${KEY_A}",`,
          `"main": { "base_url": "${main.url}", "api_keys": ["\${KEY_A}", "\${KEY_B}"],`,
        ),
        { KEY_B, ...searchEnv("searxng", search) },
      );
      proxies.push(p);
      for (let i = 0; i < 2; i++) {
        const { res } = await post(p, {
          model: "claude-opus-4-1",
          tools: [{ type: "web_search_20250305", name: "web_search" }],
        });
        assert.equal(res.status, 200);
      }
      assert.deepEqual(main.requests.map((r) => r.headers.authorization), [
        `Bearer ${TEST_UPSTREAM_KEY}`,
        `Bearer ${KEY_B}`,
      ]);
    } finally {
      await search.close();
    }
  });

  it("keeps answering a refused key's 401, not a retryable 529, while the key rests", async () => {
    mainScript = () => ({ status: 401, json: openaiError("bad key", "invalid_api_key") });
    const p = proxy(fileText({ opus: ["main/m1"] }));
    for (let i = 0; i < 2; i++) {
      const { res, text } = await post(p, { model: "claude-opus-4-1" });
      assert.equal(res.status, 401, text);
      assert.equal(JSON.parse(text).error.type, "authentication_error");
      // The hint names where this provider's key is set: the file, not OPENAI_API_KEY.
      assert.match(JSON.parse(text).error.message, /check providers\.main\.api_key\)/);
      assert.equal(res.headers.get("x-should-retry"), "false");
      assert.equal(res.headers.get("x-ccp-upstream"), "main/m1");
    }
    // The resting key was not sent again.
    assert.equal(main.requests.length, 1);
    // The request log ends with the refusal the client got.
    assert.match(
      String(requestLines(p.logs).at(-1)!.attempts),
      /main\/m1: 401 authentication_error$/,
    );
  });

  it("answers a retryable 529 when another entry is only waiting (circuit open)", async () => {
    spareScript = () => ({ status: 500, json: openaiError("boom", "server_error") });
    mainScript = () => ({ status: 401, json: openaiError("bad key", "invalid_api_key") });
    const p = proxy(fileText({
      fallback: `"fallback": { "failures_to_open": 1, "cooldown_s": 30 },`,
    }));
    // spare's breaker opens; main's one key is refused and rests.
    assert.equal((await post(p, { model: "spare/m2" })).res.status, 500);
    assert.equal((await post(p, { model: "claude-opus-4-1" })).res.status, 401);
    const { res } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 529);
    assert.equal(res.headers.get("x-should-retry"), "true");
  });

  it("moves on down the chain when every key of a provider rests", async () => {
    mainScript = () => ({ status: 429, json: openaiError("rate", "rate_limit_error") });
    const p = proxy();
    assert.match((await post(p, { model: "claude-opus-4-1" })).text, /from spare/);
    main.requests.length = 0;
    const { text } = await post(p, { model: "claude-opus-4-1" });
    assert.match(text, /from spare/);
    assert.equal(main.requests.length, 0, "the resting key is not used");
    assert.match(
      String(requestLines(p.logs).at(-1)!.attempts),
      /main\/m1: skipped \(keys resting\)/,
    );
  });
});

describe("circuit breaker", () => {
  it("opens after failures_to_open, lets one trial through after cooldown_s, closes on success", async () => {
    let now = 5_000_000;
    mainScript = () => ({ status: 500, json: openaiError("down", "server_error") });
    const p = proxy(
      fileText({ fallback: `"fallback": { "failures_to_open": 2, "cooldown_s": 30 },` }),
      () => now,
    );
    await post(p, { model: "claude-opus-4-1" });
    await post(p, { model: "claude-opus-4-1" });
    assert.equal(main.requests.length, 2);
    assert.equal(p.health.breakerState("main"), "open");
    // Open: main is skipped without a request.
    const skipped = await post(p, { model: "claude-opus-4-1" });
    assert.match(skipped.text, /from spare/);
    assert.equal(main.requests.length, 2);
    assert.match(String(requestLines(p.logs).at(-1)!.attempts), /skipped \(circuit open\)/);
    // Half-open after the cooldown: one trial; it fails, so the breaker opens again.
    now += 31_000;
    assert.equal(p.health.breakerState("main"), "half-open");
    await post(p, { model: "claude-opus-4-1" });
    assert.equal(main.requests.length, 3);
    assert.equal(p.health.breakerState("main"), "open");
    // The next trial succeeds: closed.
    now += 31_000;
    mainScript = ok("main is back");
    assert.match((await post(p, { model: "claude-opus-4-1" })).text, /main is back/);
    assert.equal(p.health.breakerState("main"), "closed");
  });

  it("answers 529 with Retry-After when every entry is skipped", async () => {
    let now = 9_000_000;
    mainScript = () => ({ status: 500, json: openaiError("down", "server_error") });
    spareScript = () => ({ status: 500, json: openaiError("down", "server_error") });
    const p = proxy(
      fileText({ fallback: `"fallback": { "failures_to_open": 1, "cooldown_s": 30 },` }),
      () => now,
    );
    await post(p, { model: "claude-opus-4-1" });
    const { res, text } = await post(p, { model: "claude-opus-4-1" });
    assert.equal(res.status, 529, text);
    assert.equal(res.headers.get("retry-after"), "30");
    now += 1;
  });
});

describe("Anthropic-speaking upstreams (api: anthropic)", () => {
  it("forwards the request with the provider's key and model, and passes the answer on", async () => {
    anthScript = () => ({
      json: {
        ...anthropicMessage("from anth"),
        content: [
          { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "x" } },
          { type: "text", text: "from anth", citations: null },
        ],
      },
    });
    const p = proxy();
    const { res, text } = await post(p, {
      model: "claude-haiku-4-5",
      context_management: { edits: [] },
    }, { "anthropic-beta": "context-management-2025-06-27" });
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text);
    assert.equal(body.model, "claude-haiku-4-5");
    assert.equal(body.content[0].type, "server_tool_use", "blocks pass unchanged");
    const sent = anth.requests[0]!;
    assert.equal(sent.path, "/v1/messages");
    assert.equal(sent.headers["x-api-key"], TEST_UPSTREAM_KEY);
    assert.equal(sent.headers["anthropic-beta"], "context-management-2025-06-27");
    assert.equal(sent.body.model, "small-one");
    assert.deepEqual(sent.body.context_management, { edits: [] }, "unknown fields are kept");
    assert.equal(res.headers.get("x-ccp-upstream"), "anth/small-one");
  });

  it("streams the answer back unchanged except the model name", async () => {
    const p = proxy();
    const { res, text } = await post(p, { model: "claude-haiku-4-5", stream: true });
    assert.equal(res.status, 200);
    assert.match(text, /"model":"claude-haiku-4-5"/);
    assert.doesNotMatch(text, /upstream-model/);
    assert.match(
      text,
      /event: content_block_delta\ndata: \{"type":"content_block_delta","index":0,"delta":\{"type":"text_delta","text":"from anth"\}\}/,
    );
    assert.match(text, /event: message_stop/);
  });

  it("passes errors through, and a 529 falls back to the next entry", async () => {
    anthScript = () => ({
      status: 529,
      json: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
    });
    const p = proxy();
    const { res, text } = await post(p, { model: "claude-haiku-4-5", stream: true });
    assert.equal(res.status, 200);
    assert.match(text, /from spare/);
    anthScript = () => ({
      status: 400,
      json: { type: "error", error: { type: "invalid_request_error", message: "bad thing" } },
    });
    const bad = await post(p, { model: "claude-haiku-4-5" });
    assert.equal(bad.res.status, 400);
    assert.deepEqual(JSON.parse(bad.text).error, {
      type: "invalid_request_error",
      message: "bad thing",
    });
  });

  it("ends a stream cut before message_stop, or an upstream event: error, with one event: error", async () => {
    const p = proxy();
    anthScript = () => ({
      sse: [...anthropicSse("partial").slice(0, 3), { waitMs: 100 }],
      done: false,
      resetAfter: true,
    });
    const cut = await post(p, { model: "claude-haiku-4-5", stream: true });
    assert.match(cut.text, /event: message_start/);
    assert.equal(cut.text.split("event: error").length, 2, cut.text);
    assert.equal(spare.requests.length, 0, "no fallback once the stream started");
    anthScript = () => ({
      sse: [
        ...anthropicSse("x").slice(0, 2),
        {
          raw:
            `event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`,
        },
      ],
      done: false,
    });
    const failed = await post(p, { model: "claude-haiku-4-5", stream: true });
    assert.match(
      failed.text,
      /event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error","message":"Overloaded"\}\}/,
    );
    assert.equal(failed.text.split("event: error").length, 2, failed.text);
  });

  it("counts tokens at the upstream", async () => {
    anthScript = () => ({ json: { input_tokens: 4242 } });
    const p = proxy();
    const res = await fetch(`${p.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-haiku-4-5",
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    assert.deepEqual(await res.json(), { input_tokens: 4242 });
    assert.equal(anth.requests[0]!.path, "/v1/messages/count_tokens");
    assert.equal(anth.requests[0]!.body.model, "small-one");
  });
});

describe("choosing the upstream", () => {
  it("takes an explicit provider/model (the model may hold slashes) and provider,model", async () => {
    const p = proxy();
    const a = await post(p, { model: "spare/openai/gpt-5" });
    assert.equal(JSON.parse(a.text).model, "spare/openai/gpt-5");
    assert.equal(spare.requests[0]!.body.model, "openai/gpt-5");
    await post(p, { model: "main,gpt-5" });
    assert.equal(main.requests[0]!.body.model, "gpt-5");
    // An unknown prefix is a plain model name for the first provider.
    await post(p, { model: "nobody/x" });
    assert.equal(main.requests[1]!.body.model, "nobody/x");
  });

  it("takes a route before the tiers", async () => {
    const p = proxy();
    await post(p, { model: "claude-thinker-opus" });
    assert.equal(anth.requests[0]!.body.model, "deep");
    assert.equal(main.requests.length, 0);
  });

  it("lists every routable name in /v1/models with the context window where known", async () => {
    const p = proxy();
    const res = await fetch(`${p.url}/v1/models`);
    const list = await res.json() as {
      data: { id: string; max_input_tokens?: number; display_name: string }[];
    };
    const ids = list.data.map((m) => m.id);
    for (
      const id of [
        "main/gpt-5",
        "main/m1",
        "spare/m2",
        "anth/small-one",
        "anth/deep",
        "claude-opus-4-1",
      ]
    ) {
      assert.ok(ids.includes(id), `${id} in ${ids.join(", ")}`);
    }
    assert.equal(list.data.find((m) => m.id === "main/gpt-5")!.max_input_tokens, 400_000);
    assert.match(list.data.find((m) => m.id === "claude-opus-4-1")!.display_name, /m1/);
    assert.equal(main.requests.length, 0, "no upstream list is fetched");
    // Claude Code's /model menu shows only ids starting with claude or anthropic.
    assert.ok(ids.includes("anthropic/spare/m2"));
    await post(p, { model: "anthropic/spare/m2" });
    assert.equal(spare.requests.at(-1)!.body.model, "m2");
  });

  it("names, for a Claude alias a model-name route takes, the route's model, as requests get it", async () => {
    const p = proxy(
      fileText().replace(
        `"routes": [`,
        `"routes": [ { "if": { "model": "*haiku*" }, "to": "spare/m2" },`,
      ),
    );
    const list = await (await fetch(`${p.url}/v1/models`)).json() as {
      data: { id: string; display_name: string }[];
    };
    assert.match(list.data.find((m) => m.id === "claude-haiku-4-5")!.display_name, /→ m2$/);
    const one = await (await fetch(`${p.url}/v1/models/claude-haiku-4-5`)).json();
    assert.match(one.display_name, /→ m2$/);
    const { res } = await post(p, { model: "claude-haiku-4-5" });
    assert.equal(res.headers.get("x-ccp-upstream"), "spare/m2");
  });
});

describe("the official SDK", () => {
  it("completes a tool task while the first provider answers 529", async () => {
    mainScript = () => overloaded;
    spareScript = (req) => {
      const last = req.body.messages.at(-1);
      return last.role === "tool" ? { sse: textStream("It is sunny in Paris.") } : {
        sse: toolCallStream([{ id: "call_1", name: "get_weather", args: '{"city":"Paris"}' }]),
      };
    };
    const p = proxy();
    const client = new Anthropic({ baseURL: p.url, apiKey: "x", maxRetries: 0 });
    const tools = [{
      name: "get_weather",
      description: "weather",
      input_schema: { type: "object" as const, properties: { city: { type: "string" } } },
    }];
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "Weather in Paris?" }];
    const first = await client.messages.stream({
      model: "claude-opus-4-1",
      max_tokens: 200,
      tools,
      messages,
    })
      .finalMessage();
    assert.equal(first.stop_reason, "tool_use");
    assert.equal(first.model, "claude-opus-4-1");
    const call = first.content.find((b) => b.type === "tool_use")!;
    assert.ok(call.type === "tool_use");
    assert.deepEqual(call.input, { city: "Paris" });
    messages.push({ role: "assistant", content: first.content });
    messages.push({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: call.id, content: "sunny" }],
    });
    const second = await client.messages.stream({
      model: "claude-opus-4-1",
      max_tokens: 200,
      tools,
      messages,
    })
      .finalMessage();
    assert.equal(second.stop_reason, "end_turn");
    assert.match(second.content[0]!.type === "text" ? second.content[0]!.text : "", /sunny/);
    assert.equal(main.requests.length, 2);
    assert.equal(spare.requests.length, 2);
  });
});

describe("without a routing file", () => {
  it("a non-streamed request to an upstream that hangs before its headers ends at NONSTREAM_FIRST_BYTE_TIMEOUT", async () => {
    mainScript = () => ({ stall: true });
    const p = startProxy({
      OPENAI_BASE_URL: main.url,
      NONSTREAM_FIRST_BYTE_TIMEOUT: "0.3",
      REQUEST_TIMEOUT: "60",
    });
    try {
      const res = await fetch(`${p.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-opus-4-1",
          max_tokens: 10,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      const body = await res.json() as { error: { type: string; message: string } };
      assert.equal(res.status, 504);
      assert.equal(body.error.type, "timeout_error");
      assert.match(body.error.message, /NONSTREAM_FIRST_BYTE_TIMEOUT/);
      assert.equal(res.headers.get("x-ccp-upstream"), "default/gpt-4o");
    } finally {
      await p.close();
    }
  });
});

describe("how long a rate-limited key rests", () => {
  const rateLimited = (retryAfter?: string) =>
    new ProxyError(
      429,
      "rate_limit_error",
      "slow down",
      retryAfter ? { "retry-after": retryAfter } : {},
    );
  it("for its Retry-After in seconds or as an HTTP date, else for cooldown_s", () => {
    const now = Date.parse("2026-12-07T12:00:00Z");
    assert.equal(keyRestMs(rateLimited("20"), 30_000, now), 20_000);
    assert.equal(keyRestMs(rateLimited("0"), 30_000, now), 0, "Retry-After: 0 says at once");
    assert.equal(keyRestMs(rateLimited("-5"), 30_000, now), 30_000);
    assert.equal(keyRestMs(rateLimited("Mon, 07 Dec 2026 12:00:45 GMT"), 30_000, now), 45_000);
    assert.equal(keyRestMs(rateLimited(), 30_000, now), 30_000);
    assert.equal(keyRestMs(rateLimited("soon"), 30_000, now), 30_000);
    assert.equal(keyRestMs(rateLimited("Mon, 07 Dec 2026 11:00:00 GMT"), 30_000, now), 30_000);
    assert.equal(keyRestMs(new ProxyError(401, "authentication_error", "bad"), 30_000), 30_000);
    assert.equal(keyRestMs(new ProxyError(500, "api_error", "boom"), 30_000), undefined);
  });
});
