/**
 * What monitoring costs per request, in process and without sockets (like handler_cost.ts):
 * the same requests through a handler with METRICS, DASHBOARD and the usage history all off,
 * and with all three on — a SQLite history in a temporary directory and one dashboard
 * connected to the live feed. Rounds alternate off/on so drift hits both alike.
 *
 *   bun bench/ops_cost.ts [--n 3000] [--rounds 4] [--scenarios json,s50]
 *     [--parts metrics,dashboard,history]   which parts the "on" side has (default all three)
 *   deno run -A bench/ops_cost.ts
 */
import process from "node:process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configFromEnv } from "../lib/ops/config.ts";
import { silentLogger } from "../lib/ops/log.ts";
import { createMonitoring } from "../lib/ops/monitoring.ts";
import { attachUsageDb } from "../lib/runtime/sqlite.ts";
import { createHandler, type Handler } from "../lib/server/handler.ts";
import type { Fetch } from "../lib/upstreams/transport.ts";
import { buildTemplate } from "./requests.ts";
import {
  isScenarioName,
  type Scenario,
  type ScenarioName,
  SCENARIOS,
  textChunks,
  upstreamUsage,
} from "./scenarios.ts";

const enc = new TextEncoder();

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const chunk = (delta: unknown, finish: string | null = null) =>
  `data: ${
    JSON.stringify({
      id: "chatcmpl-x",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: [{ index: 0, delta, finish_reason: finish }],
    })
  }\n\n`;

/** An upstream answering from memory: the scenario's JSON or its stream. */
function fakeFetch(s: Scenario): Fetch {
  const text = textChunks(s, "n0");
  const json = JSON.stringify({
    id: "chatcmpl-x",
    object: "chat.completion",
    created: 1,
    model: "m",
    choices: [{
      index: 0,
      message: { role: "assistant", content: text.join("") },
      finish_reason: "stop",
    }],
    usage: upstreamUsage(s),
  });
  const frames = [
    chunk({ role: "assistant", content: "" }),
    ...text.map((t) => chunk({ content: t })),
    chunk({}, "stop"),
    `data: ${JSON.stringify({ id: "chatcmpl-x", choices: [], usage: upstreamUsage(s) })}\n\n`,
    "data: [DONE]\n\n",
  ].map((f) => enc.encode(f));
  return () => {
    if (!s.stream) {
      return Promise.resolve(
        new Response(json, { headers: { "content-type": "application/json" } }),
      );
    }
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i < frames.length) c.enqueue(frames[i++]!);
        else c.close();
      },
    });
    return Promise.resolve(
      new Response(body, { headers: { "content-type": "text/event-stream" } }),
    );
  };
}

type Setup = { handler: Handler; close: () => void };

const parts = new Set(arg("parts", "metrics,dashboard,history").split(","));

async function setup(s: Scenario, on: boolean, dir: string): Promise<Setup> {
  const config = configFromEnv({
    OPENAI_API_KEY: "k",
    OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
    ANTHROPIC_API_KEY: "bench-key",
    LOG_LEVEL: "ERROR",
    METRICS: String(on && parts.has("metrics")),
    DASHBOARD: String(on && parts.has("dashboard")),
    USAGE_DB: on && parts.has("history")
      ? join(dir, `usage-${Math.random().toString(36).slice(2)}.db`)
      : "off",
  });
  const monitoring = createMonitoring(config, silentLogger);
  if (on !== (monitoring !== undefined)) throw new Error("monitoring not as configured");

  const handler = createHandler(config, { log: silentLogger, fetch: fakeFetch(s), monitoring });
  if (!monitoring) return { handler, close: () => {} };
  if (config.usageDb) {
    await attachUsageDb(monitoring.history, config.usageDb);
  }
  if (config.dashboard) {
    // One dashboard watching: the live feed is read as a browser would.
    const feed = await handler(
      new Request("http://127.0.0.1:8082/ui/api/events", {
        headers: { "x-api-key": "bench-key" },
      }),
    );
    const reader = feed.body!.getReader();
    (async () => {
      while (!(await reader.read()).done);
    })();
  }
  return {
    handler,
    close: () => {
      monitoring.feeds.abort();
      monitoring.history.close();
    },
  };
}

async function measure(name: ScenarioName, on: boolean, n: number, dir: string) {
  const s = SCENARIOS[name];
  const { handler, close } = await setup(s, on, dir);
  const t = buildTemplate("anthropic", s, 60 * 1024);
  const body = enc.encode(`${t.head}n0${t.tail}`);
  const once = async () => {
    const res = await handler(
      new Request("http://127.0.0.1:8082/v1/messages", {
        method: "POST",
        body,
        headers: { "content-type": "application/json", "x-api-key": "bench-key" },
      }),
    );
    const text = await res.text();
    if (res.status !== 200 || !text.includes("n0")) throw new Error(`bad answer: ${text}`);
  };
  for (let i = 0; i < Math.min(300, n); i++) await once();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await once();
  // The history's batches are written from a timer: their cost counts too.
  close();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

/**
 * The monitoring work alone: `n` finished requests published to the event feed with metrics,
 * the history (SQLite, flushed) and one connected dashboard listening. Less noisy than the
 * A/B on a busy machine, since it measures only what monitoring adds.
 */
async function direct(n: number, dir: string, watched: boolean): Promise<number> {
  const config = configFromEnv({
    OPENAI_API_KEY: "k",
    OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
    USAGE_DB: join(dir, `direct-${Math.random().toString(36).slice(2)}.db`),
  });
  const monitoring = createMonitoring(config, silentLogger)!;
  await attachUsageDb(monitoring.history, config.usageDb!);
  const handler = createHandler(config, { log: silentLogger, monitoring });
  if (watched) {
    const feed = await handler(new Request("http://127.0.0.1:8082/ui/api/events"));
    const reader = feed.body!.getReader();
    (async () => {
      while (!(await reader.read()).done);
    })();
  }
  const record = (i: number) => ({
    id: `req_${i}`,
    time: Date.now(),
    method: "POST",
    path: "/v1/messages",
    status: 200,
    requestedModel: "claude-sonnet-4-5",
    target: "default/gpt-4o",
    stream: true,
    inputTokens: 1200 + i % 7,
    outputTokens: 300,
    cachedTokens: 800,
    ttfbMs: 120,
    ttftMs: 240,
    durationMs: 2400,
  });
  for (let i = 0; i < 500; i++) monitoring.events.finished(record(i));
  monitoring.history.flush();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    monitoring.events.finished(record(i));
    // Let the feed's batches and the history's timer run as they would between requests.
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 0));
  }
  monitoring.history.flush();
  await new Promise((r) => setTimeout(r, 150));
  const cpu = process.cpuUsage(cpu0);
  monitoring.feeds.abort();
  monitoring.history.close();
  return (cpu.user + cpu.system) / n;
}

const n = Number(arg("n", "3000"));
const rounds = Number(arg("rounds", "4"));
const names = arg("scenarios", "json,s50").split(",").filter(isScenarioName);
const dir = mkdtempSync(join(tmpdir(), "ccp-ops-bench-"));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  for (const name of names) {
    const off: number[] = [];
    const on: number[] = [];
    for (let r = 0; r < rounds; r++) {
      off.push(await measure(name, false, n, dir));
      on.push(await measure(name, true, n, dir));
    }
    const a = median(off);
    const b = median(on);
    console.log(
      `${name.padEnd(5)} off ${a.toFixed(1).padStart(6)} µs CPU  on ${
        b.toFixed(1).padStart(6)
      } µs CPU` +
        `  ${((b / a - 1) * 100).toFixed(1).padStart(5)}%  (medians of ${rounds} rounds of ${n})`,
    );
  }
  for (const watched of [false, true]) {
    const alone: number[] = [];
    for (let r = 0; r < rounds; r++) alone.push(await direct(n * 5, dir, watched));
    console.log(
      `monitoring alone: ${median(alone).toFixed(2)} µs CPU per request (metrics + history` +
        `${watched ? " + one dashboard watching" : ", no dashboard open"}; ` +
        `median of ${rounds} rounds of ${n * 5})`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
