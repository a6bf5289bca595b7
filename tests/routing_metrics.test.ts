/** Breaker state and resting keys reach /metrics, read from the current router at each scrape. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Health } from "../lib/routing/health.ts";
import { addHealthGauges } from "../lib/routing/health_gauges.ts";
import { RouterHolder } from "../lib/routing/holder.ts";
import { envRouter } from "../lib/routing/router.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import { Metrics } from "../lib/ops/metrics.ts";
import { RequestEvents } from "../lib/ops/request_events.ts";

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("routing health in the metrics", () => {
  it("shows each provider's breaker (closed, open, half-open) and its resting keys", () => {
    let now = 0;
    const health = new Health(() => now);
    const metrics = new Metrics(new RequestEvents());
    const router = envRouter(configFromEnv({ OPENAI_API_KEY: "k" }));
    addHealthGauges(metrics, health, new RouterHolder(router));

    let text = metrics.render();
    assert.equal(sample(text, 'ccp_breaker_state{provider="default"}'), 0);
    assert.equal(sample(text, 'ccp_resting_keys{provider="default"}'), 0);

    health.restKey("default", "k1", 5_000);
    health.failed("default", { failuresToOpen: 1, cooldownMs: 10_000 });
    text = metrics.render();
    assert.equal(sample(text, 'ccp_breaker_state{provider="default"}'), 2);
    assert.equal(sample(text, 'ccp_resting_keys{provider="default"}'), 1);
    assert.match(text, /# TYPE ccp_breaker_state gauge/);

    now = 10_000;
    text = metrics.render();
    assert.equal(sample(text, 'ccp_breaker_state{provider="default"}'), 1);
    assert.equal(sample(text, 'ccp_resting_keys{provider="default"}'), 0);
  });
});
