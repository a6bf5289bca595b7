/**
 * GET /metrics: requests by route, status and stream; time-to-first-token and duration
 * histograms; tokens by model (cached ones apart); upstream errors by type; open streams. The
 * output is checked by Prometheus's own parser (`promtool check metrics`) where it is installed
 * (.ci/run installs it). The same key rule as the API; METRICS=false removes the endpoint.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  completion,
  type FakeUpstream,
  openaiError,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import { TEST_CLIENT_KEY } from "./helpers/proxy.ts";
import { type OpsProxy, startOpsProxy } from "./helpers/ops_proxy.ts";
import { Metrics } from "../lib/ops/metrics.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import { silentLogger } from "../lib/ops/log.ts";
import { createMonitoring } from "../lib/ops/monitoring.ts";
import { createHandler } from "../lib/server/handler.ts";
import { RequestEvents } from "../lib/ops/request_events.ts";

function script(req: { body?: { messages?: unknown; stream?: boolean } }) {
  const text = JSON.stringify(req.body?.messages ?? []);
  if (text.includes("rate-me")) {
    return { status: 429, json: openaiError("Rate limit reached for gpt-4o", "rate_limit") };
  }
  if (req.body?.stream) {
    return { sse: textStream("streamed", { usage: { prompt_tokens: 30, completion_tokens: 5 } }) };
  }
  return {
    json: completion({
      content: "hello",
      usage: { prompt_tokens: 100, completion_tokens: 20, cached_tokens: 40 },
    }),
  };
}

const ask = (proxy: OpsProxy, content: string, extra: Record<string, unknown> = {}) =>
  fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
    body: JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 32,
      messages: [{ role: "user", content }],
      ...extra,
    }),
  }).then(async (r) => ({ status: r.status, text: await r.text() }));

function promtool(): string | undefined {
  const which = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

/** The value of one sample line, e.g. `ccp_tokens_total{model="default/gpt-4o",kind="input"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /metrics", () => {
  let upstream: FakeUpstream;
  let proxy: OpsProxy;
  let metrics: string;
  before(async () => {
    upstream = await startFakeUpstream(script);
    proxy = await startOpsProxy({
      OPENAI_BASE_URL: upstream.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      BIG_MODEL: "gpt-4o",
      USAGE_DB: "off",
    });
    assert.equal((await ask(proxy, "plain")).status, 200);
    assert.equal((await ask(proxy, "streamed", { stream: true })).status, 200);
    assert.equal((await ask(proxy, "rate-me")).status, 429);
    const res = await fetch(`${proxy.url}/metrics`, {
      headers: { authorization: `Bearer ${TEST_CLIENT_KEY}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    metrics = await res.text();
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  it("counts requests by route, status and stream", () => {
    const r = 'ccp_requests_total{route="/v1/messages"';
    assert.equal(sample(metrics, `${r},status="200",stream="false"}`), 1);
    assert.equal(sample(metrics, `${r},status="200",stream="true"}`), 1);
    assert.equal(sample(metrics, `${r},status="429",stream="false"}`), 1);
  });

  it("counts tokens by provider/model, cached input apart from input", () => {
    const m = 'ccp_tokens_total{model="default/gpt-4o"';
    // 100 prompt tokens of which 40 cached, plus the stream's 30.
    assert.equal(sample(metrics, `${m},kind="input"}`), 60 + 30);
    assert.equal(sample(metrics, `${m},kind="cached"}`), 40);
    assert.equal(sample(metrics, `${m},kind="output"}`), 25);
  });

  it("has histograms of time to first token (streams) and duration", () => {
    assert.equal(
      sample(metrics, 'ccp_time_to_first_token_seconds_count{model="default/gpt-4o"}'),
      1,
    );
    assert.equal(
      sample(metrics, 'ccp_time_to_first_token_seconds_bucket{model="default/gpt-4o",le="+Inf"}'),
      1,
    );
    assert.equal(sample(metrics, 'ccp_request_duration_seconds_count{route="/v1/messages"}'), 3);
  });

  it("counts upstream errors by provider and type; no open stream is left", () => {
    assert.equal(
      sample(metrics, 'ccp_upstream_errors_total{provider="default",type="rate_limit_error"}'),
      1,
    );
    assert.equal(sample(metrics, "ccp_open_streams"), 0);
  });

  it("is valid exposition text for Prometheus's own parser", (t) => {
    const tool = promtool();
    if (!tool) return t.skip("promtool not installed (apt-get install prometheus)");
    const run = spawnSync(tool, ["check", "metrics"], { input: metrics, encoding: "utf8" });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  });

  it("asks for the proxy's key like the API, with an Anthropic-shaped 401", async () => {
    const res = await fetch(`${proxy.url}/metrics`);
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "authentication_error");
    const wrong = await fetch(`${proxy.url}/metrics`, { headers: { "x-api-key": "nope" } });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
  });

  it("answers 405 to other methods", async () => {
    const res = await fetch(`${proxy.url}/metrics`, {
      method: "POST",
      headers: { "x-api-key": TEST_CLIENT_KEY },
    });
    assert.equal(res.status, 405);
    assert.equal((await res.json()).error.type, "invalid_request_error");
  });
});

describe("metrics switched off", () => {
  it("METRICS=false: /metrics is not a route, the API still answers", async () => {
    const upstream = await startFakeUpstream(script);
    const proxy = await startOpsProxy({
      OPENAI_BASE_URL: upstream.url,
      METRICS: "false",
      USAGE_DB: "off",
    });
    try {
      const res = await fetch(`${proxy.url}/metrics`);
      assert.equal(res.status, 404);
      assert.equal((await res.json()).error.type, "not_found_error");
      assert.equal((await ask(proxy, "plain")).status, 200);
      assert.equal(proxy.monitoring.metrics, undefined);
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});

describe("Metrics from request records", () => {
  const base = {
    id: "req_1",
    time: 0,
    method: "POST",
    path: "/v1/messages",
    durationMs: 1500,
  };

  it("counts a fallback for each failed attempt, by the provider that failed", () => {
    const events = new RequestEvents();
    const metrics = new Metrics(events);
    events.finished({
      ...base,
      status: 200,
      target: "backup/gpt-4o",
      attempts: ["main/gpt-5: 429 rate_limit_error", "main/gpt-5-mini: 529 overloaded_error"],
    });
    const text = metrics.render();
    assert.equal(sample(text, 'ccp_fallbacks_total{provider="main"}'), 2);
  });

  it("does not count the last entry of a request that failed: it had nothing to fail over to", () => {
    const events = new RequestEvents();
    const metrics = new Metrics(events);
    events.finished({
      ...base,
      status: 429,
      target: "spare/m2",
      attempts: [
        "main/m1: 429 rate_limit_error",
        "main/m1: 429 rate_limit_error",
        "spare/m2: 429 rate_limit_error",
      ],
      error: { type: "rate_limit_error", message: "slow down" },
    });
    const text = metrics.render();
    assert.equal(sample(text, 'ccp_fallbacks_total{provider="main"}'), 2);
    assert.equal(sample(text, 'ccp_fallbacks_total{provider="spare"}'), undefined);
  });

  it("escapes label values and keeps unknown paths in one series", () => {
    const events = new RequestEvents();
    const metrics = new Metrics(events);
    events.finished({ ...base, status: 200, target: 'p/we"ird\\model\nx', inputTokens: 3 });
    events.finished({ ...base, path: "/wp-admin/x.php", method: "GET", status: 404 });
    events.finished({ ...base, path: "/.env", method: "GET", status: 404 });
    const text = metrics.render();
    assert.equal(
      sample(text, 'ccp_tokens_total{model="p/we\\"ird\\\\model\\nx",kind="input"}'),
      3,
    );
    assert.equal(sample(text, 'ccp_requests_total{route="other",status="404",stream=""}'), 2);
  });

  it("reads gauges other layers add at each scrape (breaker state, resting keys)", () => {
    const events = new RequestEvents();
    const metrics = new Metrics(events);
    let open = 0;
    metrics.addGauge("ccp_breaker_open", "1 while the provider's breaker is open.", () => [
      { labels: { provider: "main" }, value: open },
    ]);
    assert.equal(sample(metrics.render(), 'ccp_breaker_open{provider="main"}'), 0);
    open = 1;
    assert.equal(sample(metrics.render(), 'ccp_breaker_open{provider="main"}'), 1);
  });

  it("counts each duration in its bucket and every bucket above it", () => {
    const events = new RequestEvents();
    const metrics = new Metrics(events);
    for (const ms of [50, 100, 300, 700_000]) {
      events.finished({ ...base, status: 200, durationMs: ms });
    }
    const text = metrics.render();
    const bucket = (le: string) =>
      sample(text, `ccp_request_duration_seconds_bucket{route="/v1/messages",le="${le}"}`);
    // 0.1 s counts in le="0.1" (a bucket is "less than or equal"); 700 s only in +Inf.
    assert.deepEqual(
      ["0.1", "0.25", "0.5", "1", "600", "+Inf"].map(bucket),
      [2, 2, 3, 3, 3, 4],
    );
    assert.equal(sample(text, 'ccp_request_duration_seconds_count{route="/v1/messages"}'), 4);
    assert.equal(sample(text, 'ccp_request_duration_seconds_sum{route="/v1/messages"}'), 700.45);
  });

  it("keeps 1000 targets apart and sums the rest in one (other) series", () => {
    // A target can be a model name a client sent through: clients must not grow the series.
    const events = new RequestEvents();
    const metrics = new Metrics(events);
    for (let i = 0; i < 1200; i++) {
      events.finished({ ...base, status: 200, target: `p/model-${i}`, inputTokens: 2, ttftMs: 10 });
    }
    const text = metrics.render();
    const tokenSeries = text.split("\n").filter((l) => l.startsWith("ccp_tokens_total{"));
    assert.equal(tokenSeries.length, 1001);
    assert.equal(sample(text, 'ccp_tokens_total{model="p/model-999",kind="input"}'), 2);
    assert.equal(sample(text, 'ccp_tokens_total{model="(other)",kind="input"}'), 400);
    assert.equal(sample(text, 'ccp_time_to_first_token_seconds_count{model="(other)"}'), 200);
    assert.equal(sample(text, 'ccp_tokens_total{model="p/model-1000",kind="input"}'), undefined);
  });

  it("does not count a request the proxy refused before sending it as an upstream error", () => {
    const events = new RequestEvents();
    const metrics = new Metrics(events);
    // Too long for the model's window: answered by the proxy, the upstream never asked.
    events.finished({
      ...base,
      status: 400,
      target: "default/tiny",
      error: { type: "invalid_request_error", message: "prompt is too long: 441 tokens > 100" },
    });
    assert.ok(!metrics.render().includes("ccp_upstream_errors_total{"));
    events.finished({
      ...base,
      status: 400,
      target: "default/tiny",
      error: { type: "invalid_request_error", message: "prompt is too long: 441 tokens > 100" },
      upstreamCalled: true,
    });
    assert.match(
      metrics.render(),
      /ccp_upstream_errors_total\{provider="default",type="invalid_request_error"\} 1/,
    );
  });

  it("does not count a client that left as an upstream error", () => {
    const events = new RequestEvents();
    const metrics = new Metrics(events);
    events.finished({
      ...base,
      status: 499,
      target: "default/gpt-4o",
      error: { type: "api_error", message: "client disconnected" },
    });
    assert.ok(!metrics.render().includes("ccp_upstream_errors_total{"));
  });
});

describe("everything switched off", () => {
  it("METRICS, DASHBOARD and USAGE_DB off: no monitoring object, no listener, no route", async () => {
    const config = configFromEnv({
      OPENAI_API_KEY: "x",
      METRICS: "false",
      DASHBOARD: "false",
      USAGE_DB: "off",
      HOME: "/home/someone",
    });
    assert.equal(createMonitoring(config, silentLogger), undefined);
    const handler = createHandler(config, { log: silentLogger });
    for (const path of ["/metrics", "/ui", "/ui/api/state", "/ui/api/events"]) {
      const res = await handler(new Request(`http://127.0.0.1:8082${path}`));
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
  });
});
