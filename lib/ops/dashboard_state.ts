/**
 * What the dashboard shows, as JSON: the recent requests, open streams, totals per day and per
 * hour by provider/model with their cost, and the running configuration (no secret in it).
 */
import type { Monitoring } from "./monitoring.ts";
import { costOf, modelOfTarget, priceFor, type PriceTable } from "./prices.ts";
import type { OpenStream, RequestRecord } from "./request_events.ts";
import type { UsageTotal } from "./usage_db.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const RECENT = 100;

/** A request with its cost in US dollars; null when the model's price is unknown. */
export type RecordView = RequestRecord & { cost: number | null };
export type TotalView = UsageTotal & { cost: number | null };

export type DashboardState = {
  version: string;
  now: number;
  started: number;
  history: string;
  config: Record<string, unknown>;
  open: OpenStream[];
  recent: RecordView[];
  /** Per UTC day, the last 7 days (today included). */
  days: TotalView[];
  /** Per hour, the last 24 hours. */
  hours: TotalView[];
};

function priceOfTarget(target: string | undefined, prices: PriceTable) {
  return target ? priceFor(modelOfTarget(target), prices) : undefined;
}

export function recordView(r: RequestRecord, prices: PriceTable): RecordView {
  const cost = costOf(priceOfTarget(r.target, prices), {
    input: r.inputTokens,
    output: r.outputTokens,
    cached: r.cachedTokens,
  });
  return { ...r, cost: cost ?? null };
}

export function totalView(t: UsageTotal, prices: PriceTable): TotalView {
  // Requests that never reached an upstream (refused, invalid) cost nothing: known, not "—".
  if (t.target === "") return { ...t, cost: 0 };
  const cost = costOf(priceOfTarget(t.target, prices), {
    input: t.input,
    output: t.output,
    cached: t.cached,
  });
  return { ...t, cost: cost ?? null };
}

export function dashboardState(
  m: Monitoring,
  opts: { version: string; now: number; config: Record<string, unknown> },
): DashboardState {
  const today = Math.floor(opts.now / DAY_MS) * DAY_MS;
  const hour = Math.floor(opts.now / HOUR_MS) * HOUR_MS;
  return {
    version: opts.version,
    now: opts.now,
    started: m.started,
    history: m.history.state,
    config: opts.config,
    open: m.events.openStreams,
    recent: m.history.recent(RECENT).map((r) => recordView(r, m.prices)),
    days: m.history.totals(today - 6 * DAY_MS, DAY_MS).map((t) => totalView(t, m.prices)),
    hours: m.history.totals(hour - 23 * HOUR_MS, HOUR_MS).map((t) => totalView(t, m.prices)),
  };
}
