/**
 * Load generator for one benchmark cell (closed loop, or at a fixed rate with --rate), run as its own process so its CPU use
 * does not land on the proxy's core.
 *
 *   bun bench/load.ts --url http://127.0.0.1:8082 --api anthropic --scenario s50 \
 *     --concurrency 16 --duration 3 [--rate R] [--clock http://127.0.0.1:UPSTREAM] [--out result.json]
 *
 * `--api anthropic` posts Anthropic requests to URL/v1/messages (the proxy); `--api openai`
 * posts the equivalent request to URL/v1/chat/completions (the upstream, the baseline).
 * With --rate R, request n starts no earlier than n/R seconds into the window (at most
 * --concurrency in flight); without, each worker sends its next request when the last one ends.
 * Every response is checked against what the fake upstream sent (scenarios.ts). Workers stop
 * starting requests after --duration or --max-requests, whichever comes first; every request
 * has its own timeout and the process has a hard deadline, so a hung target cannot hang us.
 */
import process from "node:process";
import { writeFileSync } from "node:fs";
import { type Api, type BodyTemplate, buildTemplate } from "./requests.ts";
import {
  type Expected,
  expected,
  isScenarioName,
  type Scenario,
  type ScenarioName,
  SCENARIOS,
  stripTimestamps,
  TIMESTAMP_RE,
  wallClockMs,
} from "./scenarios.ts";
import { summarize, type Summary } from "./stats.ts";

export type LoadResult = {
  api: Api;
  url: string;
  scenarios: ScenarioName[];
  concurrency: number;
  durationS: number;
  /** Measured requests that finished, whatever the outcome. */
  requests: number;
  /** Transport failures, timeouts and non-2xx statuses. */
  errors: number;
  /** 2xx answers that failed the content/stop-reason/usage check. */
  invalid: number;
  valid: number;
  /** From the first request start to the last completion (includes draining in-flight ones). */
  windowMs: number;
  /** Completed non-error responses per second of window. */
  rps: number;
  latencyMs: Summary | null;
  ttfbMs: Summary | null;
  firstDeltaMs: Summary | null;
  /** Per timestamped chunk: client receive time minus upstream send time (clock-corrected). */
  deliveryLagMs: Summary | null;
  errorSamples: string[];
  invalidSamples: string[];
  warmup: { requests: number; errors: number; invalid: number; samples: string[] };
  clock: { offsetMs: number; rttMs: number } | null;
  requestBytes: Record<string, number>;
  clientCpuMs: number;
};

type Options = {
  url: string;
  api: Api;
  scenarios: ScenarioName[];
  concurrency: number;
  durationS: number;
  maxRequests: number;
  /** Requests started per second across all workers; 0: each worker as fast as answered. */
  rate: number;
  timeoutS: number;
  warmupPerWorker: number;
  clockUrl: string | undefined;
  systemBytes: number;
  apiKey: string;
  out: string | undefined;
  phaseMarkers: boolean;
};

type Outcome = {
  error: string | undefined;
  invalid: string | undefined;
  latencyMs: number;
  ttfbMs: number;
  firstDeltaMs: number | undefined;
  lags: number[];
};

// ---------------------------------------------------------------------------------------------
// Loose JSON access without `any`.

type Rec = Record<string, unknown>;
function rec(v: unknown): Rec | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === "number" ? v : undefined;
}
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ra = rec(a);
  const rb = rec(b);
  if (!ra || !rb) return false;
  const ka = Object.keys(ra);
  return ka.length === Object.keys(rb).length && ka.every((k) => deepEqual(ra[k], rb[k]));
}

function textDiff(got: string, want: string): string | undefined {
  if (got === want) return undefined;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  const show = (s: string) => JSON.stringify(s.slice(Math.max(0, i - 10), i + 30));
  return `text differs at char ${i} (got ${got.length}, want ${want.length}): ` +
    `got ${show(got)} want ${show(want)}`;
}

// ---------------------------------------------------------------------------------------------
// Server-sent events.

type SseEvent = { event: string | undefined; data: string };

class SseSplitter {
  private buf = "";
  push(chunk: string): SseEvent[] {
    this.buf += chunk.includes("\r") ? chunk.replace(/\r\n?/g, "\n") : chunk;
    const out: SseEvent[] = [];
    let from = 0;
    for (;;) {
      const end = this.buf.indexOf("\n\n", from);
      if (end < 0) break;
      let event: string | undefined;
      const data: string[] = [];
      for (const line of this.buf.slice(from, end).split("\n")) {
        if (line.startsWith("data:")) data.push(line.slice(line[5] === " " ? 6 : 5));
        else if (line.startsWith("event:")) event = line.slice(6).trim();
      }
      if (data.length > 0 || event !== undefined) out.push({ event, data: data.join("\n") });
      from = end + 2;
    }
    this.buf = this.buf.slice(from);
    return out;
  }
}

/**
 * Turns timestamp tags in streamed text into delivery lags. Scans the accumulated text so a tag
 * split across two deltas (if a proxy re-chunks) is still counted, at the later arrival.
 */
class LagMeter {
  private text = "";
  private pos = 0;
  readonly lags: number[] = [];
  constructor(private readonly offsetMs: number) {}
  add(piece: string, wallNow: number): void {
    this.text += piece;
    const re = new RegExp(TIMESTAMP_RE.source, "g");
    re.lastIndex = this.pos;
    for (let m = re.exec(this.text); m; m = re.exec(this.text)) {
      // offset = upstream clock - client clock, so the send time in client terms is ts - offset.
      this.lags.push(wallNow - (Number(m[1]) - this.offsetMs));
      this.pos = re.lastIndex;
    }
  }
}

interface StreamCheck {
  firstDeltaAt: number | undefined;
  onEvent(ev: SseEvent, at: number, wall: number): void;
  finish(): string | undefined;
}

type Block = { type: string; text: string; json: string; name: string | undefined; open: boolean };

function checkUsage(
  got: { input: number | undefined; output: number | undefined },
  exp: Expected,
): string | undefined {
  if (got.output !== exp.completionTokens) {
    return `output_tokens ${got.output} != upstream completion_tokens ${exp.completionTokens}`;
  }
  if (got.input !== exp.inputTokens) {
    return `input_tokens ${got.input} != upstream prompt-cached ${exp.inputTokens}`;
  }
  return undefined;
}

function checkAnthropicContent(
  blocks: readonly Block[],
  exp: Expected,
  timestamps: boolean,
): string | undefined {
  const text = blocks.filter((b) => b.type === "text").map((b) => b.text).join("");
  const diff = textDiff(timestamps ? stripTimestamps(text) : text, exp.text);
  if (diff) return diff;
  const tools = blocks.filter((b) => b.type === "tool_use");
  if (!exp.tool) {
    return tools.length === 0 ? undefined : `unexpected tool_use blocks: ${tools.length}`;
  }
  const [tool] = tools;
  if (tools.length !== 1 || !tool) return `expected 1 tool_use block, got ${tools.length}`;
  if (tool.name !== exp.tool.name) return `tool name ${tool.name} != ${exp.tool.name}`;
  let input: unknown;
  try {
    input = JSON.parse(tool.json);
  } catch {
    return `tool input is not JSON: ${JSON.stringify(tool.json.slice(0, 80))}`;
  }
  return deepEqual(input, exp.tool.args)
    ? undefined
    : `tool input differs: ${tool.json.slice(0, 120)}`;
}

class AnthropicStreamCheck implements StreamCheck {
  firstDeltaAt: number | undefined;
  private problem: string | undefined;
  private started = false;
  private stopped = false;
  private readonly blocks = new Map<number, Block>();
  private stopReason: string | undefined;
  private startInput: number | undefined;
  private deltaInput: number | undefined;
  private output: number | undefined;
  constructor(
    private readonly exp: Expected,
    private readonly timestamps: boolean,
    private readonly lag: LagMeter | undefined,
  ) {}

  private fail(msg: string): void {
    this.problem ??= msg;
  }

  onEvent(ev: SseEvent, at: number, wall: number): void {
    let data: Rec | undefined;
    try {
      data = rec(JSON.parse(ev.data));
    } catch {
      return this.fail(`event data is not JSON: ${ev.data.slice(0, 80)}`);
    }
    const type = str(data?.type);
    if (!data || !type) return this.fail(`event without a type: ${ev.data.slice(0, 80)}`);
    if (ev.event !== undefined && ev.event !== type) {
      return this.fail(`event name ${ev.event} != data.type ${type}`);
    }
    if (type === "ping") return;
    if (type === "error") return this.fail(`error event: ${ev.data.slice(0, 200)}`);
    if (this.stopped) return this.fail(`${type} after message_stop`);
    if (!this.started && type !== "message_start") return this.fail(`${type} before message_start`);
    const index = num(data.index);
    switch (type) {
      case "message_start": {
        if (this.started) return this.fail("second message_start");
        this.started = true;
        this.startInput = num(rec(rec(data.message)?.usage)?.input_tokens);
        return;
      }
      case "content_block_start": {
        const cb = rec(data.content_block);
        if (index === undefined || !cb) return this.fail("content_block_start without index/block");
        if (this.blocks.has(index)) return this.fail(`content block ${index} started twice`);
        this.blocks.set(index, {
          type: str(cb.type) ?? "?",
          text: str(cb.text) ?? "",
          json: "",
          name: str(cb.name),
          open: true,
        });
        return;
      }
      case "content_block_delta": {
        this.firstDeltaAt ??= at;
        const block = index === undefined ? undefined : this.blocks.get(index);
        if (!block?.open) return this.fail(`delta for block ${index} that is not open`);
        const delta = rec(data.delta);
        const dtype = str(delta?.type);
        if (dtype === "text_delta") {
          const t = str(delta?.text) ?? "";
          block.text += t;
          this.lag?.add(t, wall);
        } else if (dtype === "input_json_delta") {
          block.json += str(delta?.partial_json) ?? "";
        }
        return;
      }
      case "content_block_stop": {
        const block = index === undefined ? undefined : this.blocks.get(index);
        if (!block?.open) return this.fail(`stop for block ${index} that is not open`);
        block.open = false;
        return;
      }
      case "message_delta": {
        this.stopReason = str(rec(data.delta)?.stop_reason) ?? this.stopReason;
        const usage = rec(data.usage);
        this.output = num(usage?.output_tokens) ?? this.output;
        this.deltaInput = num(usage?.input_tokens) ?? this.deltaInput;
        return;
      }
      case "message_stop":
        this.stopped = true;
        return;
      default:
        return; // Unknown event types are allowed by the API's versioning policy.
    }
  }

  finish(): string | undefined {
    if (this.problem) return this.problem;
    if (!this.started) return "no message_start";
    if (!this.stopped) return "stream ended without message_stop";
    const ordered = [...this.blocks.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    const open = ordered.findIndex((b) => b.open);
    if (open >= 0) return `content block ${open} never stopped`;
    const content = checkAnthropicContent(ordered, this.exp, this.timestamps);
    if (content) return content;
    if (this.stopReason !== this.exp.stopReason) {
      return `stop_reason ${this.stopReason} != ${this.exp.stopReason}`;
    }
    // The final count belongs in message_delta; message_start is sent before usage is known.
    return checkUsage({ input: this.deltaInput ?? this.startInput, output: this.output }, this.exp);
  }
}

function checkAnthropicJson(text: string, exp: Expected): string | undefined {
  let body: Rec | undefined;
  try {
    body = rec(JSON.parse(text));
  } catch {
    return `body is not JSON: ${text.slice(0, 120)}`;
  }
  if (!body || body.type !== "message" || body.role !== "assistant") {
    return `not an assistant message: ${text.slice(0, 120)}`;
  }
  if (!Array.isArray(body.content)) return "content is not an array";
  const blocks: Block[] = body.content.map((b): Block => {
    const r = rec(b);
    return {
      type: str(r?.type) ?? "?",
      text: str(r?.text) ?? "",
      json: JSON.stringify(r?.input ?? null),
      name: str(r?.name),
      open: false,
    };
  });
  const content = checkAnthropicContent(blocks, exp, false);
  if (content) return content;
  if (body.stop_reason !== exp.stopReason) {
    return `stop_reason ${body.stop_reason} != ${exp.stopReason}`;
  }
  const usage = rec(body.usage);
  return checkUsage({ input: num(usage?.input_tokens), output: num(usage?.output_tokens) }, exp);
}

type OpenAIToolAcc = { id: string; name: string; args: string };

function checkOpenAIResult(
  text: string,
  tools: ReadonlyMap<number, OpenAIToolAcc>,
  finish: string | undefined,
  usage: Rec | undefined,
  exp: Expected,
  timestamps: boolean,
): string | undefined {
  const diff = textDiff(timestamps ? stripTimestamps(text) : text, exp.text);
  if (diff) return diff;
  const call = tools.get(0);
  if (exp.tool) {
    if (tools.size !== 1 || !call) return `expected 1 tool call, got ${tools.size}`;
    if (call.name !== exp.tool.name) return `tool name ${call.name} != ${exp.tool.name}`;
    let args: unknown;
    try {
      args = JSON.parse(call.args);
    } catch {
      return `tool arguments are not JSON: ${call.args.slice(0, 80)}`;
    }
    if (!deepEqual(args, exp.tool.args)) return `tool arguments differ: ${call.args.slice(0, 120)}`;
  } else if (tools.size > 0) return `unexpected tool calls: ${tools.size}`;
  if (finish !== exp.finishReason) return `finish_reason ${finish} != ${exp.finishReason}`;
  const cached = num(rec(usage?.prompt_tokens_details)?.cached_tokens) ?? 0;
  if (num(usage?.prompt_tokens) !== exp.promptTokens || cached !== exp.cachedTokens) {
    return `prompt usage ${JSON.stringify(usage)} != ${exp.promptTokens}/${exp.cachedTokens}`;
  }
  if (num(usage?.completion_tokens) !== exp.completionTokens) {
    return `completion_tokens ${usage?.completion_tokens} != ${exp.completionTokens}`;
  }
  return undefined;
}

class OpenAIStreamCheck implements StreamCheck {
  firstDeltaAt: number | undefined;
  private problem: string | undefined;
  private done = false;
  private text = "";
  private readonly tools = new Map<number, OpenAIToolAcc>();
  private finishReason: string | undefined;
  private usage: Rec | undefined;
  constructor(
    private readonly exp: Expected,
    private readonly timestamps: boolean,
    private readonly lag: LagMeter | undefined,
  ) {}

  onEvent(ev: SseEvent, at: number, wall: number): void {
    if (this.problem) return;
    if (this.done) {
      this.problem = "data after [DONE]";
      return;
    }
    if (ev.data === "[DONE]") {
      this.done = true;
      return;
    }
    let chunk: Rec | undefined;
    try {
      chunk = rec(JSON.parse(ev.data));
    } catch {
      this.problem = `chunk is not JSON: ${ev.data.slice(0, 80)}`;
      return;
    }
    this.usage = rec(chunk?.usage) ?? this.usage;
    const choices = chunk?.choices;
    const choice = Array.isArray(choices) ? rec(choices[0]) : undefined;
    if (!choice) return;
    this.finishReason = str(choice.finish_reason) ?? this.finishReason;
    const delta = rec(choice.delta);
    const content = str(delta?.content);
    if (content) {
      this.firstDeltaAt ??= at;
      this.text += content;
      this.lag?.add(content, wall);
    }
    if (Array.isArray(delta?.tool_calls)) {
      this.firstDeltaAt ??= at;
      for (const raw of delta.tool_calls) {
        const tc = rec(raw);
        const i = num(tc?.index) ?? 0;
        const acc = this.tools.get(i) ?? { id: "", name: "", args: "" };
        const fn = rec(tc?.function);
        acc.id ||= str(tc?.id) ?? "";
        acc.name ||= str(fn?.name) ?? "";
        acc.args += str(fn?.arguments) ?? "";
        this.tools.set(i, acc);
      }
    }
  }

  finish(): string | undefined {
    if (this.problem) return this.problem;
    if (!this.done) return "stream ended without [DONE]";
    return checkOpenAIResult(
      this.text,
      this.tools,
      this.finishReason,
      this.usage,
      this.exp,
      this.timestamps,
    );
  }
}

function checkOpenAIJson(text: string, exp: Expected): string | undefined {
  let body: Rec | undefined;
  try {
    body = rec(JSON.parse(text));
  } catch {
    return `body is not JSON: ${text.slice(0, 120)}`;
  }
  const choice = Array.isArray(body?.choices) ? rec(body.choices[0]) : undefined;
  const message = rec(choice?.message);
  if (!choice || !message) return `no choices[0].message: ${text.slice(0, 120)}`;
  const tools = new Map<number, OpenAIToolAcc>();
  if (Array.isArray(message.tool_calls)) {
    message.tool_calls.forEach((raw, i) => {
      const tc = rec(raw);
      const fn = rec(tc?.function);
      tools.set(i, {
        id: str(tc?.id) ?? "",
        name: str(fn?.name) ?? "",
        args: str(fn?.arguments) ?? "",
      });
    });
  }
  return checkOpenAIResult(
    str(message.content) ?? "",
    tools,
    str(choice.finish_reason),
    rec(body?.usage),
    exp,
    false,
  );
}

// ---------------------------------------------------------------------------------------------
// The load loop.

let nonceSeq = 0;
function makeNonce(): string {
  return `n${(++nonceSeq).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? ` (${e.cause.message})` : "";
    return `${e.name}: ${e.message}${cause}`;
  }
  return String(e);
}

async function once(
  o: Options,
  s: Scenario,
  tpl: BodyTemplate,
  offsetMs: number,
): Promise<Outcome> {
  const nonce = makeNonce();
  const exp = expected(s, nonce);
  const lag = s.timestamps ? new LagMeter(offsetMs) : undefined;
  const out: Outcome = {
    error: undefined,
    invalid: undefined,
    latencyMs: NaN,
    ttfbMs: NaN,
    firstDeltaMs: undefined,
    lags: [],
  };
  const endpoint = o.api === "anthropic" ? "/v1/messages" : "/v1/chat/completions";
  const headers: Record<string, string> = o.api === "anthropic"
    ? {
      "content-type": "application/json",
      "x-api-key": o.apiKey,
      "anthropic-version": "2023-06-01",
    }
    : { "content-type": "application/json", authorization: `Bearer ${o.apiKey}` };
  const t0 = performance.now();
  try {
    const res = await fetch(o.url + endpoint, {
      method: "POST",
      headers,
      body: tpl.head + nonce + tpl.tail,
      signal: AbortSignal.timeout(o.timeoutS * 1000),
    });
    out.ttfbMs = performance.now() - t0;
    const type = res.headers.get("content-type") ?? "";
    if (!res.ok) {
      const text = await res.text();
      out.latencyMs = performance.now() - t0;
      out.error = `HTTP ${res.status}: ${text.slice(0, 300)}`;
      return out;
    }
    if (!s.stream) {
      const text = await res.text();
      out.latencyMs = performance.now() - t0;
      out.invalid = !type.includes("application/json")
        ? `content-type ${type}`
        : o.api === "anthropic"
        ? checkAnthropicJson(text, exp)
        : checkOpenAIJson(text, exp);
      return out;
    }
    if (!type.includes("text/event-stream")) {
      out.invalid = `content-type ${type}: ${(await res.text()).slice(0, 200)}`;
      out.latencyMs = performance.now() - t0;
      return out;
    }
    const check: StreamCheck = o.api === "anthropic"
      ? new AnthropicStreamCheck(exp, s.timestamps, lag)
      : new OpenAIStreamCheck(exp, s.timestamps, lag);
    const splitter = new SseSplitter();
    const decoder = new TextDecoder();
    if (!res.body) throw new Error("response has no body");
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const at = performance.now();
      const wall = wallClockMs();
      for (const ev of splitter.push(decoder.decode(value, { stream: true }))) {
        check.onEvent(ev, at, wall);
      }
    }
    for (const ev of splitter.push(decoder.decode() + "\n\n")) {
      check.onEvent(ev, performance.now(), wallClockMs());
    }
    out.latencyMs = performance.now() - t0;
    out.firstDeltaMs = check.firstDeltaAt === undefined ? undefined : check.firstDeltaAt - t0;
    out.invalid = check.finish();
    out.lags = lag?.lags ?? [];
  } catch (e) {
    out.latencyMs = performance.now() - t0;
    out.error = describe(e);
  }
  return out;
}

/** Estimates the upstream's clock offset from the exchange with the smallest round trip. */
async function calibrateClock(url: string): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Infinity };
  const deadline = performance.now() + 2000;
  for (let i = 0; i < 40 && performance.now() < deadline; i++) {
    const t0 = wallClockMs();
    const server = Number(await (await fetch(`${url}/clock`)).text());
    const t1 = wallClockMs();
    if (t1 - t0 < best.rttMs) best = { offsetMs: server - (t0 + t1) / 2, rttMs: t1 - t0 };
  }
  return best;
}

function addSample(samples: string[], msg: string): void {
  if (samples.length < 5 && !samples.includes(msg)) samples.push(msg);
}

async function run(o: Options): Promise<LoadResult> {
  const scenarios = o.scenarios.map((n) => SCENARIOS[n]);
  const templates = new Map<ScenarioName, BodyTemplate>();
  for (const s of [...scenarios, SCENARIOS.json]) {
    templates.set(s.name, buildTemplate(o.api, s, o.systemBytes));
  }
  const clock = o.clockUrl && scenarios.some((s) => s.timestamps)
    ? await calibrateClock(o.clockUrl)
    : null;
  const offsetMs = clock?.offsetMs ?? 0;

  // Warm-up: open one keep-alive connection per worker and wake the target's cheap path, so the
  // measured window does not start with `concurrency` simultaneous TCP handshakes.
  const warmup = { requests: 0, errors: 0, invalid: 0, samples: [] as string[] };
  const json = templates.get("json");
  if (json && o.warmupPerWorker > 0) {
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      for (let i = 0; i < o.warmupPerWorker; i++) {
        const r = await once(o, SCENARIOS.json, json, offsetMs);
        warmup.requests++;
        if (r.error) warmup.errors++;
        else if (r.invalid) warmup.invalid++;
        const problem = r.error ?? r.invalid;
        if (problem) addSample(warmup.samples, problem);
      }
    }));
  }

  const outcomes: Outcome[] = [];
  // run.ts samples the target's CPU counters on these lines, so warm-up is not billed to a cell.
  if (o.phaseMarkers) process.stdout.write("phase:measure\n");
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const endAt = start + o.durationS * 1000;
  let issued = 0;
  let lastDone = start;
  await Promise.all(Array.from({ length: o.concurrency }, async (_, w) => {
    for (let k = w; issued < o.maxRequests && performance.now() < endAt; k++) {
      const ticket = issued++;
      if (o.rate > 0) {
        // Request n starts at n / rate seconds, not before: a fixed request rate, so that two
        // targets compared under it do the same work per second whatever each one costs.
        const at = start + ticket * 1000 / o.rate;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() >= endAt) {
          issued--;
          break;
        }
      }
      const s = scenarios[k % scenarios.length] ?? SCENARIOS.json;
      const tpl = templates.get(s.name);
      if (!tpl) throw new Error(`no template for ${s.name}`);
      outcomes.push(await once(o, s, tpl, offsetMs));
      lastDone = performance.now();
    }
  }));
  if (o.phaseMarkers) process.stdout.write("phase:done\n");
  return summarizeRun(o, outcomes, warmup, clock, lastDone - start, cpu0, templates);
}

function summarizeRun(
  o: Options,
  outcomes: readonly Outcome[],
  warmup: LoadResult["warmup"],
  clock: LoadResult["clock"],
  windowMs: number,
  cpu0: { user: number; system: number },
  templates: ReadonlyMap<ScenarioName, BodyTemplate>,
): LoadResult {
  const errorSamples: string[] = [];
  const invalidSamples: string[] = [];
  let errors = 0;
  let invalid = 0;
  for (const r of outcomes) {
    if (r.error) {
      errors++;
      addSample(errorSamples, r.error);
    } else if (r.invalid) {
      invalid++;
      addSample(invalidSamples, r.invalid);
    }
  }
  const good = outcomes.filter((r) => !r.error);
  const cpu = process.cpuUsage(cpu0);
  const requestBytes: Record<string, number> = {};
  for (const [name, t] of templates) requestBytes[name] = t.bytes;
  return {
    api: o.api,
    url: o.url,
    scenarios: o.scenarios,
    concurrency: o.concurrency,
    durationS: o.durationS,
    requests: outcomes.length,
    errors,
    invalid,
    valid: outcomes.length - errors - invalid,
    windowMs: Math.round(windowMs * 1000) / 1000,
    rps: windowMs > 0 ? Math.round((good.length / windowMs) * 1e6) / 1000 : 0,
    latencyMs: summarize(good.map((r) => r.latencyMs)),
    ttfbMs: summarize(good.map((r) => r.ttfbMs)),
    firstDeltaMs: summarize(
      good.flatMap((r) => (r.firstDeltaMs === undefined ? [] : [r.firstDeltaMs])),
    ),
    deliveryLagMs: summarize(good.flatMap((r) => r.lags)),
    errorSamples,
    invalidSamples,
    warmup,
    clock,
    requestBytes,
    clientCpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}

function parseOptions(argv: readonly string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const number = (name: string, fallback: number): number => {
    const v = Number(get(name) ?? fallback);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`);
    return v;
  };
  const url = get("url");
  if (!url) throw new Error("--url is required");
  const api = get("api") ?? "anthropic";
  if (api !== "anthropic" && api !== "openai") throw new Error("--api must be anthropic or openai");
  const scenarios = (get("scenario") ?? "s50").split(",").map((s) => s.trim());
  for (const s of scenarios) if (!isScenarioName(s)) throw new Error(`unknown scenario ${s}`);
  return {
    url: url.replace(/\/+$/, ""),
    api,
    scenarios: scenarios.filter(isScenarioName),
    concurrency: Math.max(1, Math.floor(number("concurrency", 1))),
    durationS: number("duration", 3),
    maxRequests: Math.floor(number("max-requests", 200_000)),
    rate: number("rate", 0),
    timeoutS: number("timeout", 30),
    warmupPerWorker: Math.floor(number("warmup", 1)),
    clockUrl: get("clock"),
    systemBytes: Math.floor(number("system-kb", 60) * 1024),
    apiKey: get("api-key") ?? "bench-key",
    out: get("out"),
    phaseMarkers: argv.includes("--phase-markers"),
  };
}

function emit(o: Options, result: LoadResult): void {
  const text = JSON.stringify(result);
  if (o.out) writeFileSync(o.out, text);
  else process.stdout.write(text + "\n");
  process.stderr.write(
    `${o.api} ${o.scenarios.join(",")} c=${o.concurrency}: ${result.requests} req, ` +
      `${result.rps} rps, p50 ${result.latencyMs?.p50 ?? "-"} ms, errors ${result.errors}, ` +
      `invalid ${result.invalid}\n`,
  );
}

if (import.meta.main) {
  const o = parseOptions(process.argv.slice(2));
  // The hard deadline covers warm-up, the window and the last requests' own timeouts.
  const hardMs = (o.durationS + 2 * o.timeoutS + 10) * 1000;
  const killer = setTimeout(() => {
    process.stderr.write(`load: hard deadline of ${hardMs} ms reached, giving up\n`);
    process.exit(3);
  }, hardMs);
  try {
    emit(o, await run(o));
    clearTimeout(killer);
    // Keep-alive sockets would otherwise hold the event loop open.
    process.exit(0);
  } catch (e) {
    process.stderr.write(`load: ${describe(e)}\n`);
    process.exit(2);
  }
}
