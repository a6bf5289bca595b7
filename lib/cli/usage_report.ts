/**
 * `usage`: requests, tokens and cost per day and provider/model from the usage history, as a
 * table for a terminal. Pure: the totals, prices and the time come in, lines go out.
 */
import { costOf, modelOfTarget, priceFor, type PriceTable } from "../ops/prices.ts";
import type { UsageTotal } from "../ops/usage_db.ts";

export const DAY_MS = 86_400_000;

const int = (n: number) => n.toLocaleString("en-US");
/** As the dashboard shows it: two significant digits below a cent, so a cost never reads $0.0000. */
const money = (c: number | undefined) =>
  c === undefined
    ? "—"
    : `$${
      c > 0 && c < 0.01 ? c.toFixed(Math.min(8, 1 - Math.floor(Math.log10(c)))) : c.toFixed(2)
    }`;

/** Requests that never reached an upstream (refused, invalid) have no target and cost nothing. */
const NOT_SENT = "(not sent upstream)";

/** The first day (ms, UTC midnight) of a report of `days` days ending today. */
export function reportSince(now: number, days: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
}

export function usageReport(
  totals: readonly UsageTotal[],
  opts: { path: string; days: number; prices?: PriceTable },
): string[] {
  const header = `usage history ${opts.path}: the last ${opts.days} day${
    opts.days === 1 ? "" : "s"
  } (UTC)`;
  if (totals.length === 0) return [header, "no requests recorded in this period"];
  const rows: string[][] = [[
    "day",
    "provider/model",
    "requests",
    "errors",
    "input",
    "output",
    "cached",
    "cost",
  ]];
  const sum = { requests: 0, errors: 0, input: 0, output: 0, cached: 0 };
  let cost: number | undefined = 0;
  for (const t of totals) {
    const c = t.target === "" ? 0 : costOf(priceFor(modelOfTarget(t.target), opts.prices), {
      input: t.input,
      output: t.output,
      cached: t.cached,
    });
    cost = c === undefined || cost === undefined ? undefined : cost + c;
    sum.requests += t.requests;
    sum.errors += t.errors;
    sum.input += t.input;
    sum.output += t.output;
    sum.cached += t.cached;
    rows.push([
      new Date(t.bucket).toISOString().slice(0, 10),
      t.target || NOT_SENT,
      int(t.requests),
      int(t.errors),
      int(t.input),
      int(t.output),
      int(t.cached),
      money(c),
    ]);
  }
  rows.push([
    "total",
    "",
    int(sum.requests),
    int(sum.errors),
    int(sum.input),
    int(sum.output),
    int(sum.cached),
    money(cost),
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")
      .trimEnd()
  );
  const note = cost === undefined ? ["—: no price known for this model"] : [];
  return [header, ...lines, ...note];
}
