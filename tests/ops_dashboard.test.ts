/**
 * The dashboard's endpoints: `/ui` (the page, served without a key so it can ask for one),
 * `/ui/api/state` and the live feed `/ui/api/events` (the API's key rule), what they carry
 * (requested model → provider/model, tokens, cost or null, the error the client got, open
 * streams, the configuration without secrets), and the error lines of the log.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  completion,
  type FakeUpstream,
  openaiError,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import { TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import { type OpsProxy, startOpsProxy } from "./helpers/ops_proxy.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import { silentLogger } from "../lib/ops/log.ts";
import { createMonitoring } from "../lib/ops/monitoring.ts";
import { FEED_ROWS } from "../lib/ops/feed_batch.ts";
import { dashboardFeed } from "../lib/server/dashboard_feed.ts";

const auth = { "x-api-key": TEST_CLIENT_KEY };

function script(req: { body?: { messages?: unknown; stream?: boolean; model?: string } }) {
  const text = JSON.stringify(req.body?.messages ?? []);
  if (text.includes("bad-key")) {
    // Upstreams echo the key they were sent; no log line or client may see it.
    return {
      status: 401,
      json: openaiError(`Incorrect API key provided: ${TEST_UPSTREAM_KEY}`, "invalid_api_key"),
    };
  }
  if (req.body?.stream) {
    return {
      sse: [
        { waitMs: 150 },
        ...textStream("slow", { usage: { prompt_tokens: 9, completion_tokens: 3 } }),
      ],
    };
  }
  return {
    json: completion({ content: "ok", usage: { prompt_tokens: 10, completion_tokens: 2 } }),
  };
}

const ask = (proxy: OpsProxy, content: string, extra: Record<string, unknown> = {}) =>
  fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 32,
      messages: [{ role: "user", content }],
      ...extra,
    }),
  }).then(async (r) => ({
    status: r.status,
    id: r.headers.get("request-id"),
    text: await r.text(),
  }));

type FeedEvent = { event: string; data: Record<string, unknown> };

/** Reads the live feed's events as they come. */
async function openFeed(proxy: OpsProxy) {
  const ctrl = new AbortController();
  const res = await fetch(`${proxy.url}/ui/api/events`, { headers: auth, signal: ctrl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const events: FeedEvent[] = [];
  let ended = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let at;
        while ((at = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const event = block.match(/^event: (.*)$/m)?.[1];
          const data = block.match(/^data: (.*)$/m)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted by the test
    }
    ended = true;
  })();
  /** The first event matching `pred`, waiting up to 5 s for it. */
  const next = async (pred: (e: FeedEvent) => boolean): Promise<FeedEvent> => {
    for (let i = 0; i < 500; i++) {
      const found = events.find(pred);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no such event; got ${JSON.stringify(events)}`);
  };
  const untilEnded = async () => {
    for (let i = 0; i < 500 && !ended; i++) await new Promise((r) => setTimeout(r, 10));
    return ended;
  };
  return { next, untilEnded, close: () => ctrl.abort(), pump };
}

describe("dashboard endpoints with ANTHROPIC_API_KEY", () => {
  let upstream: FakeUpstream;
  let proxy: OpsProxy;
  before(async () => {
    upstream = await startFakeUpstream(script);
    proxy = await startOpsProxy({
      OPENAI_BASE_URL: upstream.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      BIG_MODEL: "gpt-4o",
      SMALL_MODEL: "my-local-model",
      USAGE_DB: "off",
      LOG_LEVEL: "DEBUG",
    });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  it("serves the page without a key, self-contained", async () => {
    const res = await fetch(`${proxy.url}/ui`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const html = await res.text();
    assert.ok(html.includes('<canvas id="chart"'));
    assert.ok(!/src="http|href="http/.test(html), "nothing loaded from elsewhere");
    assert.equal((await fetch(`${proxy.url}/ui/`)).status, 200);
  });

  it("asks for the key for the state and the feed", async () => {
    for (const path of ["/ui/api/state", "/ui/api/events"]) {
      const res = await fetch(`${proxy.url}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal((await res.json()).error.type, "authentication_error");
    }
  });

  it("answers HEAD on the feed without opening one", async () => {
    const res = await fetch(`${proxy.url}/ui/api/events`, { method: "HEAD", headers: auth });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.equal(await res.text(), "");
  });

  it("shows the configuration without a secret in it", async () => {
    const res = await fetch(`${proxy.url}/ui/api/state`, { headers: auth });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(!text.includes(TEST_UPSTREAM_KEY) && !text.includes(TEST_CLIENT_KEY));
    const state = JSON.parse(text);
    assert.equal(state.config.providers[0].key, "set");
    assert.equal(state.config.tiers.opus, "gpt-4o");
    assert.equal(state.config.clientKey, "required (set)");
  });

  it("feeds open streams and finished requests live, with cost or null", async () => {
    const feed = await openFeed(proxy);
    try {
      const streamed = ask(proxy, "stream please", { stream: true });
      const open = await feed.next((e) => e.event === "open");
      assert.equal(open.data.requestedModel, "claude-sonnet-4-5");
      assert.equal(open.data.target, "default/gpt-4o");
      const { id } = await streamed;
      assert.equal(open.data.id, id);
      const done = await feed.next((e) => e.event === "request" && e.data.id === id);
      assert.equal(done.data.status, 200);
      assert.equal(done.data.stream, true);
      assert.equal(done.data.inputTokens, 9);
      assert.equal(done.data.outputTokens, 3);
      assert.equal(typeof done.data.ttftMs, "number");
      assert.ok((done.data.cost as number) > 0);

      const local = await ask(proxy, "cheap", { model: "claude-haiku-4-5" });
      const unpriced = await feed.next((e) => e.event === "request" && e.data.id === local.id);
      assert.equal(unpriced.data.target, "default/my-local-model");
      assert.equal(unpriced.data.cost, null, "an unknown price is null, never 0");
    } finally {
      feed.close();
    }
  });

  it("opens the feed with the whole state: every request is in it or in the feed, none in neither", async () => {
    const before = await ask(proxy, "before the page");
    // Requests finishing while the feed opens: each must be in the state or come after it.
    const during = Array.from({ length: 5 }, (_, i) => ask(proxy, `while opening ${i}`));
    const feed = await openFeed(proxy);
    try {
      const state = await feed.next((e) => e.event === "state");
      const ids = (await Promise.all(during)).map((r) => r.id);
      const after = await ask(proxy, "after");
      const recent = (state.data.recent as { id: string }[]).map((r) => r.id);
      assert.ok(recent.includes(before.id!), "finished before: in the state");
      for (const id of [...ids, after.id!]) {
        if (recent.includes(id!)) continue;
        await feed.next((e) => e.event === "request" && e.data.id === id);
      }
      assert.ok(!recent.includes(after.id!), "finished after: in the feed only");
    } finally {
      feed.close();
    }
  });

  it("counts a request that never reached an upstream at a cost of 0, not unknown", async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", messages: [] }),
    });
    assert.equal(res.status, 400);
    await res.body?.cancel();
    const state = await (await fetch(`${proxy.url}/ui/api/state`, { headers: auth })).json();
    const local = (state.days as { target: string; cost: number | null }[]).find((d) =>
      d.target === ""
    );
    assert.ok(local, JSON.stringify(state.days));
    assert.equal(local.cost, 0);
  });

  it("a failed request carries the error the client got, redacted", async () => {
    const feed = await openFeed(proxy);
    try {
      const failed = await ask(proxy, "bad-key");
      assert.equal(failed.status, 401);
      const e = await feed.next((x) => x.event === "request" && x.data.id === failed.id);
      const error = e.data.error as { type: string; message: string };
      assert.equal(error.type, "authentication_error");
      assert.match(error.message, /check OPENAI_API_KEY/);
      assert.match(error.message, /Incorrect API key provided/);
      assert.ok(!error.message.includes(TEST_UPSTREAM_KEY));
      const state = await (await fetch(`${proxy.url}/ui/api/state`, { headers: auth })).json();
      const row = state.recent.find((r: { id: string }) => r.id === failed.id);
      assert.equal(row.error.type, "authentication_error");
    } finally {
      feed.close();
    }
  });

  it("logs the upstream's message and the client's hint on the error line; the body at debug", async () => {
    const failed = await ask(proxy, "bad-key");
    const lines = proxy.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l.msg === "request" && l.request_id === failed.id);
    assert.ok(line, "a request line");
    assert.equal(line.status, 401);
    assert.equal(line.error, "authentication_error");
    assert.match(String(line.message), /check OPENAI_API_KEY.*Incorrect API key provided/);
    const body = lines.find((l) => l.msg === "upstream error body" && l.status === 401);
    assert.ok(body, "LOG_LEVEL=debug logs the upstream's error body");
    assert.match(String(body.body), /Incorrect API key provided/);
    assert.ok(!proxy.logs.some((l) => l.includes(TEST_UPSTREAM_KEY)), "no key in any line");
  });

  it("ends the live feed at shutdown", async () => {
    const upstream2 = await startFakeUpstream(script);
    const other = await startOpsProxy({
      OPENAI_BASE_URL: upstream2.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      USAGE_DB: "off",
    });
    const feed = await openFeed(other);
    await other.close();
    assert.equal(await feed.untilEnded(), true);
    await upstream2.close();
  });
});

describe("DASHBOARD=false", () => {
  it("has no /ui routes; /metrics stays", async () => {
    const proxy = await startOpsProxy({
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      DASHBOARD: "false",
      USAGE_DB: "off",
    });
    try {
      for (const path of ["/ui", "/ui/api/state", "/ui/api/events"]) {
        const res = await fetch(`${proxy.url}${path}`);
        assert.equal(res.status, 404, path);
        await res.body?.cancel();
      }
      const metrics = await fetch(`${proxy.url}/metrics`);
      assert.equal(metrics.status, 200);
      await metrics.body?.cancel();
    } finally {
      await proxy.close();
    }
  });
});

describe("live feed pacing", () => {
  it("after a batch with more requests than rows, waits half a second before the next", async () => {
    const config = configFromEnv({
      OPENAI_API_KEY: "x",
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      USAGE_DB: "off",
    });
    const m = createMonitoring(config, silentLogger)!;
    const reader = dashboardFeed(new Request("http://127.0.0.1/ui/api/events"), m).body!
      .getReader();
    const decoder = new TextDecoder();
    /** The next chunk with requests in it: how many it sums, and when it came. */
    const nextTotals = async () => {
      for (;;) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the feed ended");
        const text = decoder.decode(value);
        const totals = text.match(/^event: totals\ndata: (.*)$/m)?.[1];
        if (totals) return { requests: JSON.parse(totals).requests as number, at: Date.now() };
      }
    };
    const finish = (i: number) =>
      m.events.finished({
        id: `req_${i}`,
        time: Date.now(),
        method: "POST",
        path: "/v1/messages",
        status: 200,
        durationMs: 5,
      });
    try {
      for (let i = 0; i < FEED_ROWS + 5; i++) finish(i);
      const busy = await nextTotals();
      assert.equal(busy.requests, FEED_ROWS + 5);
      finish(100);
      const after = await nextTotals();
      assert.equal(after.requests, 1);
      // Timers never fire early; 450 leaves room for the clock's granularity.
      assert.ok(after.at - busy.at >= 450, `${after.at - busy.at} ms after a busy batch`);
    } finally {
      m.feeds.abort();
      await reader.cancel().catch(() => {});
    }
  });
});
