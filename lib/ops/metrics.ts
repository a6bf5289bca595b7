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
 * A counter or histogram with fixed label names. A series is found through one map per label
 * value, not by a key joined from the values: a joined key is a new string to hash on every
 * request, where the values themselves (constants, or a target named once per request) hash
 * once. The label set is built when the series first appears, so a request allocates nothing
 * here for a series that exists.
 */
type Series = { labels: string; value: number };
type Level = Map<string, Series | Level>;

class Counter {
  /** Every series, in the order they appeared (what render() lists). */
  readonly series: Series[] = [];
  readonly #index: Level = new Map();
  constructor(readonly names: readonly string[]) {}
  /** Label values in the order of `names`, as many as there are names (no array per call). */
  add(by: number, a: string, b?: string, c?: string): void {
    const depth = this.names.length;
    let level = this.#index;
    let found: Series | Level | undefined;
    for (let i = 0; i < depth; i++) {
      const value = (i === 0 ? a : i === 1 ? b : c) ?? "";
      found = level.get(value);
      if (found === undefined) {
        found = i === depth - 1 ? this.#newSeries(a, b, c) : new Map();
        level.set(value, found);
      }
      if (found instanceof Map) level = found;
    }
    (found as Series).value += by;
  }
  #newSeries(a: string, b?: string, c?: string): Series {
    const s = { labels: labels(zip(this.names, [a, b ?? "", c ?? ""])), value: 0 };
    this.series.push(s);
    return s;
  }
}

class Histogram {
  readonly series = new Map<
    string,
    { labels: Record<string, string>; counts: number[]; sum: number; count: number }
  >();
  constructor(readonly name: string, readonly buckets: readonly number[]) {}
  observe(value: number, label: string): void {
    let s = this.series.get(label);
    if (!s) {
      s = { labels: { [this.name]: label }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(label, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
}

function zip(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => (out[n] = values[i] ?? ""));
  return out;
}

const STATUS_LABELS = new Map<number, string>();

/** Status codes as label text, made once per code. */
function statusLabel(status: number): string {
  let label = STATUS_LABELS.get(status);
  if (label === undefined) {
    label = String(status);
    if (STATUS_LABELS.size < 1000) STATUS_LABELS.set(status, label);
  }
  return label;
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

  record(r: RequestRecord): void {
    const route = routeLabel(r.path);
    const stream = r.stream === undefined ? "" : r.stream ? "true" : "false";
    this.#requests.add(1, route, statusLabel(r.status), stream);
    this.#duration.observe(r.durationMs / 1000, route);
    const model = r.target;
    if (!model) return;
    if (r.ttftMs !== undefined) this.#ttft.observe(r.ttftMs / 1000, model);
    if (r.inputTokens) this.#tokens.add(r.inputTokens, model, "input");
    if (r.outputTokens) this.#tokens.add(r.outputTokens, model, "output");
    if (r.cachedTokens) this.#tokens.add(r.cachedTokens, model, "cached");
    // A request that reached an upstream and failed, other than by the client leaving.
    if (r.error && r.status !== 499) this.#errors.add(1, providerOfTarget(model), r.error.type);
    for (const attempt of r.attempts ?? []) this.#fallbacks.add(1, attemptProvider(attempt));
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
        h.buckets.forEach((b, i) => out.push(`${name}_bucket${withLe(String(b))} ${s.counts[i]}`));
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
