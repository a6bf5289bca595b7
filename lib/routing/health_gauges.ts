/**
 * The routing health (circuit breakers and resting keys) as metrics gauges, read at each scrape
 * from the router that is current then, so a reload's new providers show at once.
 */
import type { Metrics } from "../ops/metrics.ts";
import type { Health } from "./health.ts";
import type { RouterSource } from "./holder.ts";

const BREAKER_VALUE = { closed: 0, "half-open": 1, open: 2 } as const;

export function addHealthGauges(metrics: Metrics, health: Health, routers: RouterSource): void {
  const providers = () => routers.current().providers;
  metrics.addGauge(
    "ccp_breaker_state",
    "Circuit breaker of each provider: 0 closed, 1 half-open (cooldown over), 2 open.",
    () =>
      providers().map((p) => ({
        labels: { provider: p.name },
        value: BREAKER_VALUE[health.breakerState(p.name)],
      })),
  );
  metrics.addGauge(
    "ccp_resting_keys",
    "Keys of each provider resting after a 429 or a 401/403.",
    () =>
      providers().map((p) => ({ labels: { provider: p.name }, value: health.restingKeys(p.name) })),
  );
}
