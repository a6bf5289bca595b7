/**
 * Requests, errors and tokens counted per hour and target. The usage history keeps a week of
 * these in memory; the dashboard's feed counts one flush's worth and sends the sums, so that a
 * busy proxy sends a few totals instead of every request.
 */
import type { RequestRecord } from "./request_events.ts";
import type { UsageTotal } from "./usage_db.ts";

export const HOUR_MS = 3_600_000;
/**
 * Targets counted apart per hour; beyond, the rest share one line. A target is a configured
 * provider/model, or a model name a client sent through: clients must not grow memory at will.
 */
const MAX_TARGETS_PER_HOUR = 500;
const OTHER_TARGETS = "(other)";

export class HourlyTotals {
  /** Totals per hour (bucket start) and target. */
  #hours = new Map<number, Map<string, UsageTotal>>();
  /** The hour last counted into, kept apart: nearly every request falls in it. */
  #bucket = -1;
  #hour: Map<string, UsageTotal> | undefined;
  #keepHours: number;

  /** Hours more than `keepHours` before the newest are forgotten as a new hour begins. */
  constructor(keepHours = Infinity) {
    this.#keepHours = keepHours;
  }

  add(r: RequestRecord): void {
    const bucket = r.time - r.time % HOUR_MS;
    let hour = bucket === this.#bucket ? this.#hour : this.#hours.get(bucket);
    if (hour === undefined) {
      hour = new Map();
      this.#hours.set(bucket, hour);
      // A new hour is rare: the time to forget the oldest.
      const oldest = bucket - this.#keepHours * HOUR_MS;
      for (const b of this.#hours.keys()) if (b < oldest) this.#hours.delete(b);
    }
    this.#bucket = bucket;
    this.#hour = hour;
    let target = r.target ?? "";
    let total = hour.get(target);
    if (total === undefined) {
      if (hour.size >= MAX_TARGETS_PER_HOUR) target = OTHER_TARGETS;
      total = hour.get(target) ??
        { bucket, target, requests: 0, errors: 0, input: 0, output: 0, cached: 0 };
      hour.set(target, total);
    }
    total.requests++;
    if (r.status >= 400) total.errors++;
    total.input += r.inputTokens ?? 0;
    total.output += r.outputTokens ?? 0;
    total.cached += r.cachedTokens ?? 0;
  }

  /** Every total, by hour then in the order targets first appeared. */
  *[Symbol.iterator](): IterableIterator<UsageTotal> {
    for (const hour of this.#hours.values()) yield* hour.values();
  }

  clear(): void {
    this.#hours.clear();
    this.#bucket = -1;
    this.#hour = undefined;
  }
}
