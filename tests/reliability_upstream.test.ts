/**
 * Upstream faults, injected with the fake upstream: retries (counted at the upstream), what the
 * client is told (status, error type, retry-after, x-should-retry), timeouts, streams that fail
 * after they started, answers that are not JSON, and pings while the upstream is silent.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  chunk,
  completion,
  type FakeUpstream,
  openaiError,
  type Reply,
  type Script,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import { startProxy, type TestProxy } from "./helpers/proxy.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import { backoffMs, callUpstream, retryAfterMs } from "../lib/upstreams/transport.ts";
import { silentLogger } from "../lib/ops/log.ts";
import { upstreamHttpError } from "../lib/upstreams/openai/errors.ts";
import { driveStream } from "../lib/server/stream_response.ts";
import { StreamConverter } from "../lib/upstreams/chat/stream.ts";

type Event = { event: string; data: Record<string, unknown> };

/** Client-side SSE parsing of the proxy's answer (the proxy always ends events with \n\n). */
function parseSse(text: string): Event[] {
  const out: Event[] = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    let event = "";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    out.push({ event, data: JSON.parse(data.join("\n")) });
  }
  return out;
}

const request = (stream: boolean, extra: Record<string, unknown> = {}) => ({
  model: "claude-sonnet-4-6",
  max_tokens: 256,
  messages: [{ role: "user", content: "hello" }],
  stream,
  ...extra,
});

function post(proxy: TestProxy, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
    signal,
  });
}

async function errorOf(res: Response): Promise<{ type: string; message: string }> {
  const body = await res.json() as { type: string; error: { type: string; message: string } };
  assert.equal(body.type, "error");
  return body.error;
}

/** A text of the streamed answer, and the last event (message_stop or error). */
function summary(events: Event[]) {
  const text = events
    .filter((e) => e.event === "content_block_delta")
    .map((e) => (e.data.delta as { text?: string }).text ?? "")
    .join("");
  return { text, last: events[events.length - 1]!, types: events.map((e) => e.event) };
}

/** One fake upstream + proxy per test: the proxy's variables differ from test to test. */
async function withProxy(
  script: Script | Reply[],
  env: Record<string, string>,
  body: (up: FakeUpstream, proxy: TestProxy) => Promise<void>,
): Promise<void> {
  const up = await startFakeUpstream(script);
  const proxy = startProxy({ OPENAI_BASE_URL: up.url, RETRY_MAX_DELAY: "0.02", ...env });
  try {
    await body(up, proxy);
  } finally {
    await proxy.close();
    await up.close();
  }
}

const ok = (): Reply => ({ json: completion({ content: "fine" }) });
const okStream = (): Reply => ({ sse: textStream("fine, streamed") });
const sdk = (proxy: TestProxy) =>
  new Anthropic({ baseURL: proxy.url, apiKey: "any", maxRetries: 0 });

describe("retries before anything reached the client", () => {
  for (const status of [408, 429, 500, 502, 503, 504]) {
    it(`retries HTTP ${status} and answers 200 when a later attempt succeeds`, async () => {
      const fail: Reply = { status, json: openaiError(`transient ${status}`, "server_error") };
      await withProxy([fail, fail, ok()], { MAX_RETRIES: "2" }, async (up, proxy) => {
        const res = await post(proxy, request(false));
        assert.equal(res.status, 200);
        assert.equal(up.requests.length, 3);
        await res.body?.cancel();
      });
    });
  }

  it("retries a connection reset", async () => {
    await withProxy(
      [{ reset: true }, { reset: true }, ok()],
      { MAX_RETRIES: "2" },
      async (up, proxy) => {
        const res = await post(proxy, request(false));
        assert.equal(res.status, 200);
        assert.equal(up.requests.length, 3);
        await res.body?.cancel();
      },
    );
  });

  it("retries a refused connection and then reports it as a 5xx the client may retry", async () => {
    const up = await startFakeUpstream([ok()]);
    const url = up.url;
    await up.close(); // nothing listens there any more
    const proxy = startProxy({ OPENAI_BASE_URL: url, MAX_RETRIES: "2", RETRY_MAX_DELAY: "0.01" });
    try {
      const res = await post(proxy, request(false));
      assert.ok(res.status >= 500 && res.status < 600, `status ${res.status}`);
      const err = await errorOf(res);
      assert.equal(err.type, "api_error");
      assert.match(err.message, /cannot reach upstream/);
      assert.equal(res.headers.get("x-should-retry"), "true");
    } finally {
      await proxy.close();
    }
  });

  it("makes 1 + MAX_RETRIES attempts, then passes the last error on", async () => {
    const fail: Reply = { status: 503, json: openaiError("overloaded", "server_error") };
    await withProxy([fail], { MAX_RETRIES: "3" }, async (up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(up.requests.length, 4);
      assert.equal(res.status, 529);
      assert.equal((await errorOf(res)).type, "overloaded_error");
      assert.equal(res.headers.get("x-should-retry"), "true");
    });
  });

  it("does not retry when MAX_RETRIES=0", async () => {
    const fail: Reply = { status: 500, json: openaiError("boom", "server_error") };
    await withProxy([fail, ok()], { MAX_RETRIES: "0" }, async (up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(res.status, 500);
      assert.equal(up.requests.length, 1);
      assert.equal((await errorOf(res)).type, "api_error");
    });
  });

  const noRetry: [number, string][] = [
    [400, "invalid_request_error"],
    [401, "authentication_error"],
    [402, "billing_error"],
    [403, "permission_error"],
    [404, "not_found_error"],
    [409, "invalid_request_error"],
    [422, "invalid_request_error"],
  ];
  for (const [status, type] of noRetry) {
    it(`never retries HTTP ${status} (${type})`, async () => {
      const fail: Reply = { status, json: openaiError(`no ${status}`) };
      await withProxy([fail, ok()], { MAX_RETRIES: "2" }, async (up, proxy) => {
        const res = await post(proxy, request(false));
        assert.equal(up.requests.length, 1);
        assert.equal((await errorOf(res)).type, type);
        assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
      });
    });
  }

  it("never retries a 429 that means the account is out of credit (billing)", async () => {
    const fail: Reply = {
      status: 429,
      json: openaiError(
        "You exceeded your current quota",
        "insufficient_quota",
        "insufficient_quota",
      ),
    };
    await withProxy([fail, ok()], { MAX_RETRIES: "2" }, async (up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(up.requests.length, 1);
      assert.equal(res.status, 402);
      assert.equal((await errorOf(res)).type, "billing_error");
      assert.equal(res.headers.get("x-should-retry"), "false");
    });
  });

  it("honours a short retry-after-ms and retry-after", async () => {
    const replies: Reply[] = [
      { status: 429, headers: { "retry-after-ms": "10" }, json: openaiError("slow down") },
      { status: 503, headers: { "retry-after": "0" }, json: openaiError("busy") },
      ok(),
    ];
    await withProxy(replies, { MAX_RETRIES: "2", RETRY_MAX_DELAY: "1" }, async (up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(res.status, 200);
      assert.equal(up.requests.length, 3);
      await res.body?.cancel();
    });
  });

  it("does not sleep past RETRY_MAX_DELAY: a longer retry-after goes to the client", async () => {
    const fail: Reply = {
      status: 429,
      headers: { "retry-after": "120" },
      json: openaiError("later"),
    };
    await withProxy([fail, ok()], { MAX_RETRIES: "2", RETRY_MAX_DELAY: "1" }, async (up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(up.requests.length, 1);
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "120");
      assert.equal(res.headers.get("x-should-retry"), "true");
      assert.equal((await errorOf(res)).type, "rate_limit_error");
    });
  });

  it("never retries once the stream to the client has begun", async () => {
    const broken: Reply = {
      sse: [chunk({ role: "assistant", content: "" }), chunk({ content: "par" }), { waitMs: 30 }],
      resetAfter: true,
    };
    await withProxy([broken, okStream()], { MAX_RETRIES: "2" }, async (up, proxy) => {
      const res = await post(proxy, request(true));
      assert.equal(res.status, 200);
      const events = parseSse(await res.text());
      assert.equal(summary(events).last.event, "error");
      assert.equal(up.requests.length, 1);
    });
  });
});

describe("retry timing (upstreams/transport.ts with injected sleep and randomness)", () => {
  /** Runs callUpstream against scripted responses, recording every sleep it asks for. */
  async function sleeps(
    responses: (() => Response)[],
    opts: { maxRetries?: number; cap?: number; random?: number } = {},
  ) {
    const waits: number[] = [];
    let i = 0;
    const fetch = () => Promise.resolve(responses[Math.min(i++, responses.length - 1)]!());
    const result = await callUpstream({
      url: "http://127.0.0.1:9/v1/chat/completions",
      headers: {},
      body: "{}",
      clientSignal: new AbortController().signal,
      firstByteTimeoutMs: undefined,
      totalTimeoutMs: 60_000,
      maxRetries: opts.maxRetries ?? 2,
      retryMaxDelayMs: opts.cap ?? 30_000,
      httpError: (status, text, headers) =>
        upstreamHttpError(status, text, headers, {
          estimatedInputTokens: 1,
          contextWindow: undefined,
        }),
    }, {
      fetch,
      log: silentLogger,
      random: () => opts.random ?? 0,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    }).then((r) => {
      r.abort("done");
      return r.response.status;
    }, (e: { status: number }) => e.status);
    return { waits, result, calls: i };
  }
  const fail = (status: number, headers: Record<string, string> = {}) => () =>
    new Response(JSON.stringify(openaiError("x")), { status, headers });
  const success = () =>
    new Response(JSON.stringify(completion({ content: "ok" })), { status: 200 });

  it("backs off exponentially, with jitter between half and the full delay", async () => {
    assert.deepEqual((await sleeps([fail(500), fail(500), success], { random: 0 })).waits, [
      250,
      500,
    ]);
    assert.deepEqual((await sleeps([fail(500), fail(500), success], { random: 1 })).waits, [
      500,
      1000,
    ]);
    for (let attempt = 0; attempt < 6; attempt++) {
      const lo = backoffMs(attempt, () => 0, 1e9);
      const hi = backoffMs(attempt, () => 0.999999, 1e9);
      assert.equal(lo, 250 * 2 ** attempt);
      assert.ok(hi > lo && hi <= 2 * lo);
    }
  });

  it("caps every wait at RETRY_MAX_DELAY", async () => {
    const { waits } = await sleeps([fail(502), fail(502), fail(502), success], {
      maxRetries: 3,
      cap: 600,
      random: 1,
    });
    assert.deepEqual(waits, [500, 600, 600]);
  });

  it("waits what retry-after-ms / retry-after ask for", async () => {
    const r = await sleeps([
      fail(429, { "retry-after-ms": "1500" }),
      fail(429, { "retry-after": "2" }),
      success,
    ]);
    assert.deepEqual(r.waits, [1500, 2000]);
    assert.equal(r.result, 200);
  });

  it("reads retry-after as seconds or as an HTTP date", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(retryAfterMs(new Headers({ "retry-after": "3" }), now), 3000);
    assert.equal(
      retryAfterMs(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:07 GMT" }), now),
      7000,
    );
    assert.equal(
      retryAfterMs(new Headers({ "retry-after-ms": "250", "retry-after": "9" }), now),
      250,
    );
    assert.equal(retryAfterMs(new Headers({ "retry-after": "soon" }), now), undefined);
    assert.equal(retryAfterMs(new Headers(), now), undefined);
  });

  it("gives up at once when the hint is beyond the cap", async () => {
    const r = await sleeps([fail(429, { "retry-after": "60" }), success], { cap: 30_000 });
    assert.deepEqual(r.waits, []);
    assert.equal(r.calls, 1);
    assert.equal(r.result, 429);
  });
});

describe("what the client is told about upstream errors", () => {
  it("passes retry-after (from retry-after-ms too) and x-should-retry: true on a 429", async () => {
    const hints: Record<string, string>[] = [{ "retry-after": "7" }, { "retry-after-ms": "6500" }];
    for (const headers of hints) {
      const fail: Reply = {
        status: 429,
        headers,
        json: openaiError("Rate limit reached", "rate_limit_exceeded"),
      };
      await withProxy([fail], { MAX_RETRIES: "0" }, async (_up, proxy) => {
        const res = await post(proxy, request(false));
        assert.equal(res.status, 429);
        assert.equal(res.headers.get("retry-after"), "7");
        assert.equal(res.headers.get("retry-after-ms"), headers["retry-after-ms"] ?? null);
        assert.equal(res.headers.get("x-should-retry"), "true");
        const err = await errorOf(res);
        assert.equal(err.type, "rate_limit_error");
        assert.match(err.message, /Rate limit reached/);
      });
    }
  });

  it("says x-should-retry: false for a bad upstream key", async () => {
    const fail: Reply = {
      status: 401,
      json: openaiError("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
    };
    await withProxy([fail], { MAX_RETRIES: "2" }, async (up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("x-should-retry"), "false");
      const err = await errorOf(res);
      assert.equal(err.type, "authentication_error");
      assert.match(err.message, /OPENAI_API_KEY/);
      assert.equal(up.requests.length, 1);
    });
  });

  it("says x-should-retry: false for billing (402)", async () => {
    const fail: Reply = { status: 402, json: openaiError("Insufficient credits") };
    await withProxy([fail], {}, async (_up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(res.status, 402);
      assert.equal(res.headers.get("x-should-retry"), "false");
      assert.equal((await errorOf(res)).type, "billing_error");
    });
  });

  it("answers a streaming request whose upstream failed with a real HTTP error, not a 200 stream", async () => {
    const fail: Reply = {
      status: 429,
      headers: { "retry-after-ms": "10" },
      json: openaiError("slow down"),
    };
    await withProxy([fail], { MAX_RETRIES: "1" }, async (up, proxy) => {
      const res = await post(proxy, request(true));
      assert.equal(res.status, 429);
      assert.match(res.headers.get("content-type") ?? "", /application\/json/);
      assert.equal(res.headers.get("retry-after"), "1", "whole seconds, rounded up");
      assert.equal(res.headers.get("x-should-retry"), "true");
      assert.equal((await errorOf(res)).type, "rate_limit_error");
      assert.equal(up.requests.length, 2);
    });
  });

  it("the SDK sees a streaming request's 5xx as a thrown APIError with the status", async () => {
    const fail: Reply = { status: 500, json: openaiError("internal", "server_error") };
    await withProxy([fail], { MAX_RETRIES: "1" }, async (up, proxy) => {
      const client = sdk(proxy);
      await assert.rejects(
        async () => {
          const stream = await client.messages.create({ ...request(true), stream: true } as never);
          for await (const _ of stream as unknown as AsyncIterable<unknown>) { /* drain */ }
        },
        (err: unknown) => {
          assert.ok(err instanceof Anthropic.APIError);
          assert.equal(err.status, 500);
          assert.equal(err.headers?.get("x-should-retry"), "true");
          return true;
        },
      );
      assert.equal(up.requests.length, 2);
    });
  });
});

describe("timeouts", () => {
  it("accepts fractional seconds in the configuration", () => {
    const c = configFromEnv({
      OPENAI_BASE_URL: "http://127.0.0.1:1/v1",
      FIRST_BYTE_TIMEOUT: "0.2",
      STREAM_IDLE_TIMEOUT: "0.25",
      REQUEST_TIMEOUT: "1.5",
      PING_INTERVAL: "0.05",
      RETRY_MAX_DELAY: "0.01",
      SHUTDOWN_GRACE: "0.5",
    });
    assert.equal(c.firstByteTimeoutMs, 200);
    assert.equal(c.streamIdleTimeoutMs, 250);
    assert.equal(c.requestTimeoutMs, 1500);
    assert.equal(c.pingIntervalMs, 50);
    assert.equal(c.retryMaxDelayMs, 10);
    assert.equal(c.shutdownGraceMs, 500);
  });

  it("FIRST_BYTE_TIMEOUT: a streaming upstream that sends no headers → 504 timeout_error", async () => {
    await withProxy(
      [{ stall: true }],
      { FIRST_BYTE_TIMEOUT: "0.2", MAX_RETRIES: "2" },
      async (up, proxy) => {
        const res = await post(proxy, request(true));
        assert.equal(res.status, 504);
        const err = await errorOf(res);
        assert.equal(err.type, "timeout_error");
        assert.match(err.message, /FIRST_BYTE_TIMEOUT/);
        assert.match(err.message, /0\.2s/);
        await up.requests[0]!.closed; // the upstream request was abandoned
        assert.equal(up.requests[0]!.abortedEarly(), true);
      },
    );
  });

  it("FIRST_BYTE_TIMEOUT does not apply to non-streaming requests (headers come last there)", async () => {
    const slow: Reply = { delayMs: 400, json: completion({ content: "slow but fine" }) };
    await withProxy([slow], { FIRST_BYTE_TIMEOUT: "0.1" }, async (_up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(res.status, 200);
      assert.equal(
        ((await res.json()) as { content: { text: string }[] }).content[0]!.text,
        "slow but fine",
      );
    });
  });

  it("REQUEST_TIMEOUT: a non-streaming upstream that never answers → 504 timeout_error", async () => {
    await withProxy([{ stall: true }], { REQUEST_TIMEOUT: "0.3" }, async (up, proxy) => {
      const res = await post(proxy, request(false));
      assert.equal(res.status, 504);
      const err = await errorOf(res);
      assert.equal(err.type, "timeout_error");
      assert.match(err.message, /REQUEST_TIMEOUT/);
      await up.requests[0]!.closed;
    });
  });

  it("REQUEST_TIMEOUT cuts a stream that runs too long, with a clear event: error", async () => {
    const endless: Reply = {
      sse: [
        chunk({ role: "assistant", content: "" }),
        ...Array.from({ length: 200 }, () => chunk({ content: "." })),
      ],
      gapMs: 20,
    };
    await withProxy(
      [endless],
      { REQUEST_TIMEOUT: "0.4", STREAM_IDLE_TIMEOUT: "5" },
      async (up, proxy) => {
        const res = await post(proxy, request(true));
        assert.equal(res.status, 200);
        const { last } = summary(parseSse(await res.text()));
        assert.equal(last.event, "error");
        const error = last.data.error as { type: string; message: string };
        assert.equal(error.type, "timeout_error");
        assert.match(error.message, /REQUEST_TIMEOUT/);
        await up.requests[0]!.closed;
        assert.equal(up.requests[0]!.abortedEarly(), true);
      },
    );
  });

  it("STREAM_IDLE_TIMEOUT counts upstream silence only, not a client that reads slowly", async () => {
    // 4 MB, far more than socket buffers hold: the paused client holds the proxy back.
    const piece = "x".repeat(8192);
    const big: Reply = {
      sse: [
        chunk({ role: "assistant", content: "" }),
        ...Array.from({ length: 512 }, () => chunk({ content: piece })),
        chunk({}, "stop"),
      ],
    };
    await withProxy(
      [big],
      { STREAM_IDLE_TIMEOUT: "0.2", PING_INTERVAL: "0.05" },
      async (up, proxy) => {
        const res = await post(proxy, request(true));
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let text = decoder.decode((await reader.read()).value, { stream: true });
        await new Promise((r) => setTimeout(r, 800)); // the client is busy for 4 idle timeouts
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
        const { last, text: streamed } = summary(parseSse(text));
        assert.equal(last.event, "message_stop", JSON.stringify(last.data).slice(0, 300));
        assert.equal(streamed.length, 512 * 8192);
        assert.equal(up.requests[0]!.abortedEarly(), false);
      },
    );
  });

  it("STREAM_IDLE_TIMEOUT: an upstream silent mid-stream ends the stream with overloaded_error", async () => {
    const stalls: Reply = {
      sse: [chunk({ role: "assistant", content: "" }), chunk({ content: "half an ans" })],
      stallAfter: true,
    };
    await withProxy(
      [stalls],
      { STREAM_IDLE_TIMEOUT: "0.25", PING_INTERVAL: "0.05" },
      async (up, proxy) => {
        const res = await post(proxy, request(true));
        const { last, text } = summary(parseSse(await res.text()));
        assert.equal(text, "half an ans");
        assert.equal(last.event, "error");
        const error = last.data.error as { type: string; message: string };
        assert.equal(error.type, "overloaded_error");
        assert.match(error.message, /STREAM_IDLE_TIMEOUT/);
        assert.match(error.message, /0\.25s/);
        await up.requests[0]!.closed;
        assert.equal(up.requests[0]!.abortedEarly(), true);
      },
    );
  });
});

type Fault = { name: string; reply: Reply; type: string; message: RegExp };

const FAULTS: Fault[] = [
  {
    name: "socket reset mid-stream",
    // The pause lets "Hel" arrive before the reset (a reset discards unread bytes).
    reply: {
      sse: [chunk({ role: "assistant", content: "" }), chunk({ content: "Hel" }), { waitMs: 30 }],
      resetAfter: true,
    },
    type: "overloaded_error",
    message: /upstream/,
  },
  {
    name: "malformed chunk",
    reply: { sse: [chunk({ content: "Hel" }), { raw: 'data: {"choices": [ {oops\n\n' }] },
    type: "api_error",
    message: /malformed/,
  },
  {
    name: "chunk of the wrong shape",
    reply: { sse: [chunk({ content: "Hel" }), { choices: "not-an-array" }] },
    type: "api_error",
    message: /unexpected shape/,
  },
  {
    name: "OpenRouter-style error object inside the stream",
    reply: {
      sse: [chunk({ content: "Hel" }), {
        error: { code: 502, message: "Provider returned error" },
      }],
      done: false,
    },
    type: "overloaded_error",
    message: /Provider returned error/,
  },
  {
    name: "error object that no retry can fix (400)",
    reply: {
      sse: [chunk({ content: "Hel" }), { error: { code: 400, message: "Invalid tool schema" } }],
      done: false,
    },
    type: "invalid_request_error",
    message: /Invalid tool schema/,
  },
  {
    name: 'finish_reason "error"',
    reply: { sse: [chunk({ content: "Hel" }), chunk({}, "error")], done: false },
    type: "overloaded_error",
    message: /error/,
  },
  {
    name: 'finish_reason "insufficient_system_resource" (DeepSeek)',
    reply: { sse: [chunk({ content: "Hel" }), chunk({}, "insufficient_system_resource")] },
    type: "overloaded_error",
    message: /insufficient_system_resource/,
  },
  {
    name: "stream that ends with neither finish_reason nor [DONE]",
    reply: {
      sse: [chunk({ role: "assistant", content: "" }), chunk({ content: "Hel" })],
      done: false,
    },
    type: "overloaded_error",
    message: /ended before the answer was complete/,
  },
];

describe("a stream that fails after it started ends with event: error, never truncated", () => {
  for (const fault of FAULTS) {
    it(`${fault.name} → event: error (${fault.type})`, async () => {
      await withProxy([fault.reply], { STREAM_IDLE_TIMEOUT: "5" }, async (_up, proxy) => {
        const res = await post(proxy, request(true));
        assert.equal(res.status, 200);
        const raw = await res.text();
        const events = parseSse(raw);
        const { last, types, text } = summary(events);
        assert.equal(types[0], "message_start");
        assert.equal(text, "Hel", "what was streamed before the failure is kept");
        assert.ok(!types.includes("message_stop"), "a failed stream must not look complete");
        assert.ok(!types.includes("message_delta"), "no fake stop_reason");
        assert.equal(last.event, "error");
        assert.deepEqual(Object.keys(last.data).sort(), ["error", "type"]);
        assert.equal(last.data.type, "error");
        const error = last.data.error as { type: string; message: string };
        assert.equal(error.type, fault.type);
        assert.match(error.message, fault.message);
        assert.ok(raw.endsWith("\n\n"));
      });
    });

    it(`${fault.name} → the official SDK's stream rejects`, async () => {
      await withProxy([fault.reply], { STREAM_IDLE_TIMEOUT: "5" }, async (_up, proxy) => {
        const client = sdk(proxy);
        await assert.rejects(
          client.messages.stream({ ...request(true), stream: undefined } as never).finalMessage(),
          (err: unknown) => {
            assert.ok(err instanceof Error, String(err));
            assert.match(String((err as Error).message), fault.message);
            return true;
          },
        );
        await assert.rejects(async () => {
          const stream = await client.messages.create({ ...request(true), stream: true } as never);
          for await (const _ of stream as unknown as AsyncIterable<unknown>) { /* drain */ }
        });
      });
    });
  }

  it("what arrived in the same read as the failure still reaches the client (driveStream)", async () => {
    const bytes = new TextEncoder().encode(
      `data: ${JSON.stringify(chunk({ content: "kept" }))}\n\ndata: {broken\n\n`,
    );
    let outcome: { status: string; error?: { type: string } } | undefined;
    let aborted: string | undefined;
    const body = driveStream({
      body: new ReadableStream({ start: (c) => c.enqueue(bytes) }),
      converter: new StreamConverter({
        messageId: "msg_1",
        model: "m",
        inputTokensEstimate: 1,
        toolNames: new Map(),
      }),
      idleTimeoutMs: 60_000,
      pingIntervalMs: 60_000,
      abortUpstream: (why) => (aborted ??= why),
      onEnd: (o) => (outcome = o),
    });
    const { text, last } = summary(parseSse(await new Response(body).text()));
    assert.equal(text, "kept");
    assert.equal(last.event, "error");
    assert.equal(outcome?.status, "error");
    assert.equal(outcome?.error?.type, "api_error");
    assert.equal(aborted, "done", "the upstream request is released");
  });

  it("a stream with finish_reason but no [DONE] completes normally", async () => {
    await withProxy([{ sse: textStream("all here"), done: false }], {}, async (_up, proxy) => {
      const message = await sdk(proxy).messages.stream(
        { ...request(true), stream: undefined } as never,
      ).finalMessage();
      assert.equal(message.stop_reason, "end_turn");
      assert.equal(message.content.length, 1);
      assert.equal((message.content[0] as { text: string }).text, "all here");
    });
  });
});

describe("upstream answers that are not JSON or not the expected shape", () => {
  const cases: { name: string; reply: Reply; stream: boolean; message: RegExp }[] = [
    {
      name: "HTML error page with 502",
      reply: {
        status: 502,
        text: "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>",
      },
      stream: false,
      message: /502 Bad Gateway/,
    },
    {
      name: "HTML error page with 502, streaming request",
      reply: { status: 502, text: "<html><body><h1>502 Bad Gateway</h1></body></html>" },
      stream: true,
      message: /502 Bad Gateway/,
    },
    {
      name: "200 with an empty body",
      reply: { text: "", headers: { "content-type": "application/json" } },
      stream: false,
      message: /empty/,
    },
    {
      name: "200 with an empty body, streaming request",
      reply: { text: "", headers: { "content-type": "application/json" } },
      stream: true,
      message: /empty/,
    },
    {
      name: "200 with HTML",
      reply: { text: "<!doctype html><title>Login</title><p>Please sign in</p>" },
      stream: false,
      message: /not JSON.*Please sign in/,
    },
    {
      name: "200 with HTML, streaming request",
      reply: { text: "<!doctype html><title>Login</title><p>Please sign in</p>" },
      stream: true,
      message: /not JSON.*Please sign in/,
    },
    {
      name: "200 with JSON of another shape",
      reply: { json: { status: "queued", id: 3 } },
      stream: false,
      message: /not a chat completion/,
    },
    {
      name: "200 with a chat completion that has no choice",
      reply: {
        json: {
          id: "c",
          object: "chat.completion",
          choices: [],
          usage: { prompt_tokens: 3, completion_tokens: 0 },
        },
      },
      stream: false,
      message: /without any choice/,
    },
  ];
  for (const c of cases) {
    it(`${c.name} → 502 api_error with a useful message`, async () => {
      await withProxy([c.reply], { MAX_RETRIES: "0" }, async (_up, proxy) => {
        const res = await post(proxy, request(c.stream));
        assert.equal(res.status, 502);
        assert.match(res.headers.get("content-type") ?? "", /application\/json/);
        const err = await errorOf(res);
        assert.equal(err.type, "api_error");
        assert.match(err.message, c.message);
        assert.doesNotMatch(err.message, /<[a-z!]/i, "no raw HTML in the message");
      });
    });
  }

  it("a status beyond 599 → 502 api_error naming it, on either runtime", async () => {
    await withProxy(
      [{ status: 700, json: { odd: true } }],
      { MAX_RETRIES: "0" },
      async (_up, proxy) => {
        for (const stream of [false, true]) {
          const res = await post(proxy, request(stream));
          assert.equal(res.status, 502);
          const err = await errorOf(res);
          assert.equal(err.type, "api_error");
          assert.match(err.message, /invalid status 700/);
        }
      },
    );
  });

  for (const status of [301, 302, 307, 308]) {
    it(`a ${status} redirect → 502 api_error naming it, not followed`, async () => {
      const elsewhere = await startFakeUpstream([ok()]);
      const reply: Reply = {
        status,
        headers: { location: `${elsewhere.url}/chat/completions` },
        text: "",
      };
      try {
        await withProxy([reply], { MAX_RETRIES: "2" }, async (up, proxy) => {
          const res = await post(proxy, request(true));
          assert.equal(res.status, 502);
          const err = await errorOf(res);
          assert.equal(err.type, "api_error");
          assert.match(err.message, new RegExp(`HTTP ${status} .*redirect.*OPENAI_BASE_URL`));
          assert.equal(up.requests.length, 1, "a redirect is not retried");
        });
        assert.equal(elsewhere.requests.length, 0, "the conversation went nowhere else");
      } finally {
        await elsewhere.close();
      }
    });
  }
});

describe("pings while the upstream is silent", () => {
  it("sends ping events every PING_INTERVAL during a pause mid-stream, then the full answer", async () => {
    const pausing: Reply = {
      sse: [
        chunk({ role: "assistant", content: "" }),
        chunk({ content: "before " }),
        { waitMs: 500 },
        chunk({ content: "after" }),
        chunk({}, "stop"),
      ],
    };
    await withProxy(
      [pausing],
      { PING_INTERVAL: "0.05", STREAM_IDLE_TIMEOUT: "5" },
      async (_up, proxy) => {
        const res = await post(proxy, request(true));
        const events = parseSse(await res.text());
        const { text, types } = summary(events);
        assert.equal(text, "before after");
        assert.equal(types[types.length - 1], "message_stop");
        const first = types.indexOf("ping");
        assert.ok(first > 0, "pings come after message_start");
        assert.ok(types.filter((t) => t === "ping").length >= 2, `types: ${types.join(",")}`);
        const pauseStart = events.findIndex((e) =>
          (e.data.delta as { text?: string } | undefined)?.text === "before "
        );
        const pauseEnd = events.findIndex((e) =>
          (e.data.delta as { text?: string } | undefined)?.text === "after"
        );
        assert.ok(types.slice(pauseStart, pauseEnd).includes("ping"), "pings fill the pause");
        for (const e of events.filter((e) => e.event === "ping")) {
          assert.deepEqual(e.data, {
            type: "ping",
          });
        }
      },
    );
  });

  it("the SDK ignores the pings", async () => {
    const pausing: Reply = {
      sse: [
        chunk({ role: "assistant", content: "" }),
        { waitMs: 200 },
        chunk({ content: "ok" }),
        chunk({}, "stop"),
      ],
    };
    await withProxy([pausing], { PING_INTERVAL: "0.03" }, async (_up, proxy) => {
      const message = await sdk(proxy).messages.stream(
        { ...request(true), stream: undefined } as never,
      ).finalMessage();
      assert.equal(message.content.length, 1);
      assert.equal((message.content[0] as { text: string }).text, "ok");
    });
  });
});
