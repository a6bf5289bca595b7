/**
 * In-process cost of the request handler, without sockets: the proxy's `(Request) => Response`
 * handler against an upstream `fetch` that answers from memory, one request at a time. It
 * isolates what the proxy's own code costs per request (parse, convert, serialize, stream
 * conversion) from the runtime's HTTP stack, which the main benchmark (run.ts) includes.
 * Use it for A/B comparisons of a change; it asserts nothing.
 *
 *   bun bench/handler_cost.ts [--n 3000] [--scenarios json,s50,cc] [--record DIR]
 *   deno run -A bench/handler_cost.ts
 *
 * `--record DIR` records every exchange into DIR (RECORD_DIR), the writer's work included in the
 * figures: it writes n files per scenario, so keep n small and use a scratch directory.
 */
import process from "node:process";
import { type Config, configFromEnv } from "../lib/ops/config.ts";
import { makeRedactor, silentLogger } from "../lib/ops/log.ts";
import { createHandler } from "../lib/server/handler.ts";
import { Recorder } from "../lib/server/exchange_recorder.ts";
import { fileRecordStore } from "../lib/runtime/record_store.ts";
import type { Fetch } from "../lib/upstreams/transport.ts";
import { buildTemplate } from "./requests.ts";
import {
  isScenarioName,
  type Scenario,
  type ScenarioName,
  SCENARIOS,
  textChunks,
  toolCall,
  upstreamUsage,
} from "./scenarios.ts";

const enc = new TextEncoder();

function chunk(delta: unknown, finish: string | null = null): string {
  return `data: ${
    JSON.stringify({
      id: "chatcmpl-x",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: [{ index: 0, delta, finish_reason: finish }],
    })
  }\n\n`;
}

/** The upstream's answer for a scenario, as the network reads a real one would deliver it. */
function answer(s: Scenario): { json?: string; frames?: Uint8Array[] } {
  const nonce = "n0";
  if (!s.stream) {
    return {
      json: JSON.stringify({
        id: "chatcmpl-x",
        object: "chat.completion",
        created: 1,
        model: "m",
        choices: [{
          index: 0,
          message: { role: "assistant", content: textChunks(s, nonce).join("") },
          finish_reason: "stop",
        }],
        usage: upstreamUsage(s),
      }),
    };
  }
  const frames = [chunk({ role: "assistant", content: "" })];
  for (const t of textChunks(s, nonce)) frames.push(chunk({ content: t }));
  let finish = "stop";
  if (s.kind === "tool") {
    const call = toolCall(nonce);
    frames.push(chunk({
      tool_calls: [{
        index: 0,
        id: call.id,
        type: "function",
        function: { name: call.name, arguments: "" },
      }],
    }));
    for (const f of call.fragments) {
      frames.push(chunk({ tool_calls: [{ index: 0, function: { arguments: f } }] }));
    }
    finish = "tool_calls";
  }
  frames.push(chunk({}, finish));
  frames.push(
    `data: ${
      JSON.stringify({ id: "chatcmpl-x", choices: [], usage: upstreamUsage(s) })
    }\n\ndata: [DONE]\n\n`,
  );
  return { frames: frames.map((f) => enc.encode(f)) };
}

function fakeFetch(s: Scenario): Fetch {
  const a = answer(s);
  return (_url, init) => {
    // The request body is serialized by the proxy; reading its length keeps it honest.
    if (typeof init.body !== "string" || init.body.length === 0) throw new Error("no body");
    if (a.json !== undefined) {
      return Promise.resolve(
        new Response(a.json, { headers: { "content-type": "application/json" } }),
      );
    }
    const frames = a.frames!;
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

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const n = Number(arg("n", "3000"));
const names = arg("scenarios", "json,s50,s200,tool,cc").split(",").filter(isScenarioName);
const recordDir = arg("record", "");

async function recorderFor(config: Config): Promise<Recorder | undefined> {
  if (!recordDir) return undefined;
  const store = fileRecordStore(recordDir);
  await store.prepare();
  return new Recorder({
    store,
    maxFileBytes: 64 * 1024 * 1024,
    maxDirBytes: Number.MAX_SAFE_INTEGER,
    log: silentLogger,
    redact: makeRedactor([config.openaiApiKey, config.anthropicApiKey]),
  });
}

async function run(name: ScenarioName): Promise<void> {
  const s = SCENARIOS[name];
  const config = configFromEnv({
    OPENAI_API_KEY: "k",
    OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
    ANTHROPIC_API_KEY: "bench-key",
    LOG_LEVEL: "ERROR",
  });
  const recorder = await recorderFor(config);
  const handler = createHandler(config, { log: silentLogger, fetch: fakeFetch(s), recorder });
  const t = buildTemplate("anthropic", s, 60 * 1024);
  const body = enc.encode(`${t.head}n0${t.tail}`);
  const once = async () => {
    const res = await handler(
      new Request("http://127.0.0.1:8082/v1/messages", {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "content-length": String(body.length),
          "x-api-key": "bench-key",
        },
      }),
    );
    const text = await res.text();
    if (res.status !== 200 || !text.includes("n0")) throw new Error(`bad answer: ${text}`);
    // Each file written before the next request: none is dropped for a writer behind.
    await recorder?.flush();
  };
  for (let i = 0; i < Math.min(500, n); i++) await once();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  const wall = (performance.now() - t0) / n * 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = (cpu.user + cpu.system) / n;
  console.log(
    `${name.padEnd(6)} ${String(body.length).padStart(7)} B  ${
      cpuUs.toFixed(1).padStart(7)
    } µs CPU` +
      `  ${wall.toFixed(1).padStart(7)} µs wall per request`,
  );
}

for (const name of names) await run(name);
