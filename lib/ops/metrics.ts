/**
 * Prometheus metrics of finished requests, in the text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Fed by the request events;
 * other layers add gauges of their own state (breakers, resting keys) with `addGauge`.
 */
import { providerOfTarget } from "./prices.ts";
import type { RequestEvents, RequestRecord } from "./request_events.ts";

const TTFT_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Paths with a fixed label; anything else is `other`, so scanners cannot grow the series. */
const ROUTES = new Set([
  "/",
  "/health",
  "/metrics",
  "/v1/messages",
  "/v1/messages/count_tokens",
  "/v1/models",
]);

function routeLabel(path: string): string {
  if (ROUTES.has(path)) return path;
  if (path.startsWith("/v1/models/")) return "/v1/models/{id}";
  if (path === "/ui" || path.startsWith("/ui/")) return "/ui";
  return "other";
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function labels(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length > 0 ? `{${parts.join(",")}}` : "";
}

/**
 * A counter with fixed label names: its series in the order they appeared (what render()
 * lists), found by their joined label values. The request path does not come here for a
 * series it has seen: Metrics keeps the series of each route and target at hand (below).
 */
type Series = { labels: string; value: number };

class Counter {
  readonly series: Series[] = [];
  readonly #index = new Map<string, Series>();
  constructor(readonly names: readonly string[]) {}
  get(...values: string[]): Series {
    let key = values.join("\u0000");
    let s = this.#index.get(key);
    if (s === undefined && this.#index.size >= MAX_SERIES) {
      values = values.map(() => OTHER);
      key = values.join("\u0000");
      s = this.#index.get(key);
    }
    if (s === undefined) {
      s = { labels: labels(zip(this.names, values)), value: 0 };
      this.#index.set(key, s);
      this.series.push(s);
    }
    return s;
  }
}

/** One histogram series: a count per bucket (not cumulative; render() sums them up). */
type HistogramSeries = {
  labels: Record<string, string>;
  counts: number[];
  sum: number;
  count: number;
};

class Histogram {
  readonly series = new Map<string, HistogramSeries>();
  constructor(readonly name: string, readonly buckets: readonly number[]) {}
  get(label: string): HistogramSeries {
    let s = this.series.get(label);
    if (!s) {
      s = { labels: { [this.name]: label }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(label, s);
    }
    return s;
  }
  observe(s: HistogramSeries, value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && !(value <= b[i]!)) i++;
    if (i < b.length) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
}

/** A route's series: its duration histogram and request counters by status, then stream. */
type RouteSeries = { duration: HistogramSeries; byStatus: Map<number, (Series | undefined)[]> };
/** A target's series, each made when first needed, so a series only appears once counted. */
type TargetSeries = {
  input?: Series;
  output?: Series;
  cached?: Series;
  ttft?: HistogramSeries;
};

/**
 * Targets with series of their own; past this, the rest share one. A target may be a model name
 * a client sent through, and clients must not grow the series (and memory) at will.
 */
const MAX_TARGETS = 1000;
/** Series per counter at most (labels a client can reach, such as a provider in a model name). */
const MAX_SERIES = 5000;
/** The label value of what is past a cap. */
const OTHER = "(other)";

function zip(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => (out[n] = values[i] ?? ""));
  return out;
}

export type GaugeSample = { labels: Record<string, string>; value: number };

/** The provider of a failed attempt `provider/model: status type`. */
function attemptProvider(attempt: string): string {
  const slash = attempt.indexOf("/");
  const colon = attempt.indexOf(":");
  const end = slash >= 0 ? slash : colon >= 0 ? colon : attempt.length;
  return attempt.slice(0, end).trim() || "unknown";
}

export class Metrics {
  #requests = new Counter(["route", "status", "stream"]);
  #tokens = new Counter(["model", "kind"]);
  #errors = new Counter(["provider", "type"]);
  #fallbacks = new Counter(["provider"]);
  #ttft = new Histogram("model", TTFT_BUCKETS);
  #duration = new Histogram("route", DURATION_BUCKETS);
  #routes = new Map<string, RouteSeries>();
  #targets = new Map<string, TargetSeries>();
  /** The series every target past MAX_TARGETS shares. */
  #other: TargetSeries = {};
  #gauges: { name: string; help: string; read: () => GaugeSample[] }[] = [];
  #events: RequestEvents;

  constructor(events: RequestEvents) {
    this.#events = events;
    events.subscribe((e) => {
      if (e.kind === "done") this.record(e.record);
    });
  }

  /** A gauge read at each scrape, e.g. breaker state per provider from the routing layer. */
  addGauge(name: string, help: string, read: () => GaugeSample[]): void {
    this.#gauges.push({ name, help, read });
  }

  /**
   * Counts a finished request. Nearly every request repeats a route, status and target seen
   * before: their series are looked up by those values directly (one map each), with no label
   * text or joined key built per request.
   */
  record(r: RequestRecord): void {
    const route = this.#route(routeLabel(r.path));
    this.#duration.observe(route.duration, r.durationMs / 1000);
    const stream = r.stream === undefined ? 0 : r.stream ? 2 : 1;
    let byStream = route.byStatus.get(r.status);
    if (byStream === undefined) {
      byStream = [];
      route.byStatus.set(r.status, byStream);
    }
    const requests = byStream[stream] ??= this.#requests.get(
      route.duration.labels.route!,
      String(r.status),
      stream === 0 ? "" : stream === 2 ? "true" : "false",
    );
    requests.value++;
    const model = r.target;
    if (!model) return;
    const t = this.#target(model);
    const name = t === this.#other ? OTHER : model;
    if (r.ttftMs !== undefined) {
      this.#ttft.observe(t.ttft ??= this.#ttft.get(name), r.ttftMs / 1000);
    }
    if (r.inputTokens) (t.input ??= this.#tokens.get(name, "input")).value += r.inputTokens;
    if (r.outputTokens) (t.output ??= this.#tokens.get(name, "output")).value += r.outputTokens;
    if (r.cachedTokens) (t.cached ??= this.#tokens.get(name, "cached")).value += r.cachedTokens;
    // A request that reached an upstream and failed, other than by the client leaving; not one
    // the proxy refused before sending anything (too long for the model, every entry skipped).
    if (r.error && r.status !== 499 && r.upstreamCalled) {
      this.#errors.get(providerOfTarget(model), r.error.type).value++;
    }
    if (r.attempts) {
      // A request that failed ended on its last entry: that one had nothing to fail over to.
      // (A client that left did so during an attempt not in the list.)
      const n = r.error && r.status !== 499 ? r.attempts.length - 1 : r.attempts.length;
      for (let i = 0; i < n; i++) this.#fallbacks.get(attemptProvider(r.attempts[i]!)).value++;
    }
  }

  #route(label: string): RouteSeries {
    let s = this.#routes.get(label);
    if (s === undefined) {
      s = { duration: this.#duration.get(label), byStatus: new Map() };
      this.#routes.set(label, s);
    }
    return s;
  }

  #target(target: string): TargetSeries {
    let s = this.#targets.get(target);
    if (s === undefined) {
      if (this.#targets.size >= MAX_TARGETS) return this.#other;
      s = {};
      this.#targets.set(target, s);
    }
    return s;
  }

  /** The exposition text. */
  render(): string {
    const out: string[] = [];
    const counter = (name: string, help: string, c: Counter) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const s of c.series) out.push(`${name}${s.labels} ${s.value}`);
    };
    const histogram = (name: string, help: string, h: Histogram) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const s of h.series.values()) {
        const key = labels(s.labels);
        const withLe = (le: string) => labels({ ...s.labels, le });
        let below = 0;
        h.buckets.forEach((b, i) => {
          below += s.counts[i]!;
          out.push(`${name}_bucket${withLe(String(b))} ${below}`);
        });
        out.push(`${name}_bucket${withLe("+Inf")} ${s.count}`);
        out.push(`${name}_sum${key} ${s.sum}`, `${name}_count${key} ${s.count}`);
      }
    };
    counter(
      "ccp_requests_total",
      "Requests answered, by route, HTTP status and stream.",
      this.#requests,
    );
    histogram(
      "ccp_request_duration_seconds",
      "Time from a request's arrival to its last byte.",
      this.#duration,
    );
    histogram(
      "ccp_time_to_first_token_seconds",
      "Time from a streamed request's arrival to its first content, by provider/model.",
      this.#ttft,
    );
    counter(
      "ccp_tokens_total",
      "Tokens by provider/model and kind (input, output, cached input).",
      this.#tokens,
    );
    counter(
      "ccp_upstream_errors_total",
      "Requests that failed after reaching an upstream, by provider and Anthropic error type.",
      this.#errors,
    );
    counter(
      "ccp_fallbacks_total",
      "Attempts that failed over to the next target, by the provider that failed.",
      this.#fallbacks,
    );
    out.push(
      "# HELP ccp_open_streams Streamed answers in progress.",
      "# TYPE ccp_open_streams gauge",
      `ccp_open_streams ${this.#events.openCount}`,
    );
    for (const g of this.#gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const s of g.read()) out.push(`${g.name}${labels(s.labels)} ${s.value}`);
    }
    return out.join("\n") + "\n";
  }
}
