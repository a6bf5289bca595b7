/**
 * The request log as the issue describes it: at the default level one line per request, whatever
 * the route or outcome, with the request id of the `request-id` header, client → upstream model,
 * stream or not, status, input/output tokens, time to first byte and total time; at debug level
 * the converted upstream request and response (streamed too), with every secret redacted.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chunk,
  completion,
  type FakeUpstream,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, TEST_UPSTREAM_KEY, type TestProxy } from "./helpers/proxy.ts";

type Line = Record<string, unknown>;

/** The request lines of the proxy's JSON log for one request id. */
function requestLines(proxy: TestProxy, requestId: string | null): Line[] {
  return proxy.logs
    .map((l) => JSON.parse(l) as Line)
    .filter((l) => l.msg === "request" && l.request_id === requestId);
}

async function send(
  proxy: TestProxy,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; requestId: string | null; text: string }> {
  const res = await fetch(proxy.url + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, requestId: res.headers.get("request-id"), text };
}

const hi = (extra: Record<string, unknown> = {}) => ({
  model: "claude-haiku-4-5",
  max_tokens: 16,
  messages: [{ role: "user", content: extra.content ?? "hi" }],
  ...extra,
});

describe("request log at the default level", () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    upstream = await startFakeUpstream((req) => {
      const text = JSON.stringify(req.body?.messages ?? []);
      if (req.path.endsWith("/models")) return { json: { object: "list", data: [] } };
      if (text.includes("upstream-401")) {
        return { status: 401, json: { error: { message: "Incorrect API key provided" } } };
      }
      if (text.includes("cut-me")) {
        return {
          sse: [chunk({ role: "assistant", content: "" }), chunk({ content: "par" })],
          resetAfter: true,
        };
      }
      return req.body?.stream
        ? { sse: textStream("hello") }
        : { json: completion({ content: "hello" }) };
    });
    proxy = startProxy({
      OPENAI_BASE_URL: upstream.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      SMALL_MODEL: "small-up",
      LOG_LEVEL: "INFO",
      LOG_FORMAT: "json",
    });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  const cases: {
    name: string;
    path: string;
    body?: unknown;
    headers?: Record<string, string>;
    status: number;
    expect: Line;
  }[] = [
    {
      name: "non-streamed answer",
      path: "/v1/messages",
      body: hi(),
      status: 200,
      expect: { model: "claude-haiku-4-5 -> small-up", stream: false, status: 200 },
    },
    {
      name: "streamed answer",
      path: "/v1/messages",
      body: hi({ stream: true }),
      status: 200,
      expect: { model: "claude-haiku-4-5 -> small-up", stream: true, status: 200 },
    },
    {
      name: "upstream error",
      path: "/v1/messages",
      body: hi({ content: "upstream-401", stream: true }),
      status: 401,
      expect: {
        model: "claude-haiku-4-5 -> small-up",
        stream: true,
        status: 401,
        error: "authentication_error",
      },
    },
    {
      name: "client error (invalid body)",
      path: "/v1/messages",
      body: { model: "claude-haiku-4-5", messages: [] },
      status: 400,
      expect: { status: 400, error: "invalid_request_error" },
    },
    {
      name: "client error (wrong key)",
      path: "/v1/messages",
      body: hi(),
      headers: { "x-api-key": "wrong" },
      status: 401,
      expect: { status: 401, error: "authentication_error" },
    },
    {
      name: "count_tokens",
      path: "/v1/messages/count_tokens",
      body: { model: "claude-haiku-4-5", messages: [{ role: "user", content: "hi" }] },
      status: 200,
      expect: { model: "claude-haiku-4-5 -> small-up", status: 200 },
    },
    { name: "models", path: "/v1/models", status: 200, expect: { status: 200 } },
    { name: "health", path: "/health", status: 200, expect: { status: 200 } },
    { name: "unknown route", path: "/v2/nothing", status: 404, expect: { status: 404 } },
  ];

  for (const c of cases) {
    it(`${c.name}: exactly one line, with the request-id header's id`, async () => {
      const r = await send(proxy, c.path, c.body, c.headers);
      assert.equal(r.status, c.status, r.text);
      assert.match(r.requestId ?? "", /^req_/);
      // A stream's line is written when it ends, just after the client read the last byte.
      let lines = requestLines(proxy, r.requestId);
      for (let i = 0; i < 50 && lines.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        lines = requestLines(proxy, r.requestId);
      }
      assert.equal(lines.length, 1, JSON.stringify(lines));
      const line = lines[0]!;
      for (const [key, value] of Object.entries(c.expect)) {
        assert.deepEqual(line[key], value, `${key} in ${JSON.stringify(line)}`);
      }
      assert.equal(typeof line.total_ms, "number");
    });
  }

  it("messages lines carry tokens and time to first byte; count_tokens its count", async () => {
    for (const body of [hi(), hi({ stream: true })]) {
      const r = await send(proxy, "/v1/messages", body);
      let line: Line | undefined;
      for (let i = 0; i < 50 && !line; i++) {
        line = requestLines(proxy, r.requestId)[0];
        if (!line) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(line);
      assert.equal(line.input_tokens, 11);
      assert.equal(line.output_tokens, 7);
      assert.equal(typeof line.ttfb_ms, "number");
    }
    const upstreamError = await send(proxy, "/v1/messages", hi({ content: "upstream-401" }));
    assert.equal(typeof requestLines(proxy, upstreamError.requestId)[0]?.ttfb_ms, "number");
    const counted = await send(proxy, "/v1/messages/count_tokens", {
      model: "claude-haiku-4-5",
      messages: [{ role: "user", content: "hi" }],
    });
    const inputTokens = (JSON.parse(counted.text) as { input_tokens: number }).input_tokens;
    assert.equal(requestLines(proxy, counted.requestId)[0]?.input_tokens, inputTokens);
  });

  it("a stream cut short logs the tokens seen so far, not undefined", async () => {
    const r = await send(proxy, "/v1/messages", hi({ content: "cut-me", stream: true }));
    assert.match(r.text, /event: error/);
    let line: Line | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = requestLines(proxy, r.requestId)[0];
      if (!line) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(line);
    assert.equal(line.stream, true);
    assert.equal(typeof line.error, "string");
    assert.equal(typeof line.input_tokens, "number");
    assert.equal(typeof line.output_tokens, "number");
  });
});

describe("request log, text format", () => {
  it("leaves out fields it does not know instead of writing undefined", async () => {
    const upstream = await startFakeUpstream(() => ({
      sse: [chunk({ role: "assistant", content: "" }), chunk({ content: "x" })],
      resetAfter: true,
    }));
    const proxy = startProxy({ OPENAI_BASE_URL: upstream.url, LOG_LEVEL: "INFO" });
    try {
      await send(proxy, "/v1/messages", hi({ stream: true }));
      await send(proxy, "/v1/messages", { model: "claude-haiku-4-5", messages: [] });
      for (let i = 0; i < 50 && proxy.logs.length < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(proxy.logs.length, 2, proxy.logs.join("\n"));
      for (const line of proxy.logs) assert.doesNotMatch(line, /=undefined/);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("debug level", () => {
  let upstream: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    upstream = await startFakeUpstream((req) =>
      req.body?.stream
        ? { sse: textStream(`answer with ${TEST_UPSTREAM_KEY}`) }
        : { json: completion({ content: "plain answer" }) }
    );
    proxy = startProxy({ OPENAI_BASE_URL: upstream.url, LOG_FORMAT: "json" });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  const debugLines = (requestId: string | null, msg: string) =>
    proxy.logs
      .map((l) => JSON.parse(l) as Line)
      .filter((l) => l.msg === msg && l.request_id === requestId);

  it("shows the whole converted request, even a Claude-Code-sized one", async () => {
    // 60 KB of system prompt first: the last message must still be visible.
    const r = await send(proxy, "/v1/messages", {
      ...hi({ content: "the-last-message" }),
      system: "You are helpful. ".repeat(4000),
    });
    assert.equal(r.status, 200);
    const [line] = debugLines(r.requestId, "upstream request");
    assert.ok(line, "an upstream request line with the request id");
    assert.match(String(line.body), /the-last-message/);
    assert.match(String(line.body), /"max_tokens":16/);
    assert.ok(String(line.body).length < 30_000, "long strings are shortened");
  });

  it("takes keys out before shortening, so no piece of one is left", async () => {
    // The key straddles the point where a long string is cut (after 600 characters).
    const content = "x".repeat(590) + TEST_UPSTREAM_KEY + "y".repeat(3000);
    const r = await send(proxy, "/v1/messages", hi({ content }));
    const [line] = debugLines(r.requestId, "upstream request");
    assert.ok(line);
    assert.ok(!String(line.body).includes(TEST_UPSTREAM_KEY.slice(0, 10)), String(line.body));
  });

  it("shows the upstream response of a non-streamed and of a streamed request", async () => {
    const plain = await send(proxy, "/v1/messages", hi());
    assert.match(String(debugLines(plain.requestId, "upstream response")[0]?.body), /plain answer/);
    const streamed = await send(proxy, "/v1/messages", hi({ stream: true }));
    let line: Line | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      line = debugLines(streamed.requestId, "upstream response")[0];
      if (!line) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(line, "a streamed upstream response line");
    assert.match(String(line.body), /answer with/);
    assert.match(String(line.body), /"finish_reason":"stop"/);
    assert.ok(!proxy.logs.join("\n").includes(TEST_UPSTREAM_KEY), "keys redacted");
  });
});
