/**
 * What watches the proxy at work: the request event feed and what listens to it (metrics, the
 * usage history the dashboard and `usage` read). Made once per process; nothing at all when
 * METRICS, DASHBOARD and USAGE_DB are all off, so the request path then pays nothing.
 */
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import type { PriceTable } from "./prices.ts";
import { RequestEvents } from "./request_events.ts";
import { UsageHistory } from "./usage_history.ts";

export type Monitoring = {
  events: RequestEvents;
  /** Undefined with METRICS=false. */
  metrics: Metrics | undefined;
  history: UsageHistory;
  /** Prices that override or extend the built-in table (from the configuration file). */
  prices: PriceTable;
  /** When this process started (`Date.now()`). */
  started: number;
  /** Aborted at shutdown: the dashboard's live feeds end, so they hold no connection open. */
  feeds: AbortController;
};

export function createMonitoring(
  config: Config,
  log: Logger,
  opts: { prices?: PriceTable; now?: () => number } = {},
): Monitoring | undefined {
  if (!config.metrics && !config.dashboard && config.usageDb === undefined) return undefined;
  const events = new RequestEvents((err) =>
    log.error("request event listener failed", {
      error: err instanceof Error ? err.message : String(err),
    })
  );
  return {
    events,
    metrics: config.metrics ? new Metrics(events) : undefined,
    history: new UsageHistory(events, {
      log,
      retentionMs: config.usageRetentionMs,
      persist: config.usageDb !== undefined,
      now: opts.now,
    }),
    prices: opts.prices ?? {},
    started: (opts.now ?? Date.now)(),
    feeds: new AbortController(),
  };
}
