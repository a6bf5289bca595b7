/**
 * A fast fake OpenAI Chat Completions upstream for the benchmark.
 *
 *   bun bench/fake_upstream.ts --port 0 [--host 127.0.0.1]
 *
 * Prints one JSON line `{"listening":"http://127.0.0.1:PORT"}` when ready. The scenario comes
 * from a marker in the request text (see scenarios.ts), so the same upstream serves the proxy
 * and the direct baseline. Runs under Bun (Bun.serve, the fastest option, so the upstream is not
 * what limits the measurement) and falls back to Deno.serve.
 *
 * Endpoints: POST /v1/chat/completions, GET /health, GET /clock (wall-clock ms, for the load
 * generator's offset estimate), GET /stats (counters run.ts diffs per cell).
 */
import process from "node:process";
import {
  findMarker,
  type Scenario,
  type ScenarioName,
  SCENARIOS,
  textChunks,
  timestampTag,
  toolCall,
  upstreamUsage,
  wallClockMs,
} from "./scenarios.ts";

type Handler = (req: Request) => Response | Promise<Response>;
type BunLike = {
  serve(o: { hostname: string; port: number; idleTimeout: number; fetch: Handler }): {
    port: number;
  };
};

const stats = {
  requests: 0,
  byScenario: {} as Record<string, number>,
  streamed: 0,
  badRequests: 0,
  notFound: 0,
  /** Streams requested without stream_options.include_usage (a real OpenAI would omit usage). */
  missingIncludeUsage: 0,
  /** Requests whose `stream` differs from what the scenario's client asked for. */
  streamMismatch: 0,
  bodyBytes: 0,
  maxBodyBytes: 0,
  inFlight: 0,
  maxInFlight: 0,
  /** Streams the reader abandoned before the end. */
  cancelled: 0,
};

const enc = new TextEncoder();
const CREATED = 1_700_000_000;
// A constant id lets the hot content frames be encoded once per scenario; the nonce still
// reaches the client through the first text chunk and the tool call.
const CHUNK_HEAD = `{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":${CREATED},` +
  `"model":"bench-upstream","system_fingerprint":null,"choices":`;

function frame(choices: unknown[], usage?: unknown): string {
  const tail = usage === undefined ? "}" : `,"usage":${JSON.stringify(usage)}}`;
  return `data: ${CHUNK_HEAD}${JSON.stringify(choices)}${tail}\n\n`;
}
function deltaFrame(delta: unknown, finish: string | null = null): string {
  return frame([{ index: 0, delta, logprobs: null, finish_reason: finish }]);
}

/** Encoded text frames that do not depend on the nonce (index 0 does), per scenario. */
const constantFrames = new Map<ScenarioName, Uint8Array[]>();
function cachedTextFrames(s: Scenario): Uint8Array[] {
  let frames = constantFrames.get(s.name);
  if (!frames) {
    frames = textChunks(s, "x").map((t) => enc.encode(deltaFrame({ content: t })));
    constantFrames.set(s.name, frames);
  }
  return frames;
}

type Step = { delayMs: number; make: () => Uint8Array };

function plan(s: Scenario, nonce: string): Step[] {
  const steps: Step[] = [];
  const now = (bytes: Uint8Array): Step => ({ delayMs: 0, make: () => bytes });
  steps.push(now(enc.encode(deltaFrame({ role: "assistant", content: "" }))));
  const texts = textChunks(s, nonce);
  const cached = s.timestamps ? [] : cachedTextFrames(s);
  texts.forEach((text, i) => {
    const delayMs = i === 0 ? 0 : s.gapMs;
    if (s.timestamps) {
      // The stamp is taken after the gap, right before the bytes are handed to the server.
      steps.push({
        delayMs,
        make: () => enc.encode(deltaFrame({ content: timestampTag(wallClockMs()) + text })),
      });
    } else {
      const bytes = i === 0 ? undefined : cached[i];
      steps.push({ delayMs, make: () => bytes ?? enc.encode(deltaFrame({ content: text })) });
    }
  });
  if (s.kind === "tool") {
    const call = toolCall(nonce);
    steps.push(now(enc.encode(deltaFrame({
      tool_calls: [{
        index: 0,
        id: call.id,
        type: "function",
        function: { name: call.name, arguments: "" },
      }],
    }))));
    for (const f of call.fragments) {
      steps.push(
        now(enc.encode(deltaFrame({ tool_calls: [{ index: 0, function: { arguments: f } }] }))),
      );
    }
  }
  steps.push(now(enc.encode(deltaFrame({}, s.kind === "tool" ? "tool_calls" : "stop"))));
  steps.push(now(enc.encode(frame([], upstreamUsage(s)))));
  steps.push(now(enc.encode("data: [DONE]\n\n")));
  return steps;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function streamResponse(s: Scenario, nonce: string): Response {
  const steps = plan(s, nonce);
  let next = 0;
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      stats.inFlight--;
    }
  };
  // One enqueue per pull so each chunk is a separate write, as from a real upstream.
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const step = steps[next++];
      if (!step) {
        finish();
        ctrl.close();
        return;
      }
      if (step.delayMs > 0) await sleep(step.delayMs);
      if (done) return;
      try {
        ctrl.enqueue(step.make());
      } catch {
        finish();
      }
    },
    cancel() {
      stats.cancelled++;
      finish();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-request-id": `req_${nonce}`,
    },
  });
}

function jsonResponse(s: Scenario, nonce: string): Response {
  const call = s.kind === "tool" ? toolCall(nonce) : undefined;
  const message: Record<string, unknown> = {
    role: "assistant",
    content: textChunks(s, nonce).join(""),
    refusal: null,
  };
  if (call) {
    message.tool_calls = [{
      id: call.id,
      type: "function",
      function: { name: call.name, arguments: call.args },
    }];
  }
  stats.inFlight--;
  return Response.json({
    id: `chatcmpl-${nonce}`,
    object: "chat.completion",
    created: CREATED,
    model: "bench-upstream",
    choices: [{ index: 0, message, logprobs: null, finish_reason: call ? "tool_calls" : "stop" }],
    usage: upstreamUsage(s),
  });
}

function openaiError(status: number, message: string): Response {
  return Response.json(
    { error: { message, type: "invalid_request_error", param: null, code: null } },
    { status },
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function handle(req: Request): Promise<Response> {
  // Avoids new URL() on the hot path: the path is everything after the authority.
  const path = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2));
  if (req.method === "POST" && path.startsWith("/v1/chat/completions")) {
    const body = await req.text();
    stats.requests++;
    stats.bodyBytes += body.length;
    if (body.length > stats.maxBodyBytes) stats.maxBodyBytes = body.length;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      stats.badRequests++;
      return openaiError(400, "body is not JSON");
    }
    if (!isRecord(parsed) || !Array.isArray(parsed.messages) || typeof parsed.model !== "string") {
      stats.badRequests++;
      return openaiError(400, "model and messages are required");
    }
    const m = findMarker(body);
    if (!m) {
      stats.badRequests++;
      return openaiError(400, "no bench-scenario marker in the request");
    }
    const s = SCENARIOS[m.name];
    stats.byScenario[s.name] = (stats.byScenario[s.name] ?? 0) + 1;
    const stream = parsed.stream === true;
    if (stream !== s.stream) stats.streamMismatch++;
    stats.inFlight++;
    if (stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
    if (!stream) return jsonResponse(s, m.nonce);
    stats.streamed++;
    const opts = parsed.stream_options;
    if (!isRecord(opts) || opts.include_usage !== true) stats.missingIncludeUsage++;
    return streamResponse(s, m.nonce);
  }
  if (req.method === "GET") {
    if (path === "/health") return new Response("ok");
    if (path === "/clock") return new Response(String(wallClockMs()));
    if (path === "/stats") return Response.json(stats);
  }
  stats.notFound++;
  return openaiError(404, `no route for ${req.method} ${path}`);
}

function arg(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] ?? fallback : fallback;
}

const hostname = arg("host", "127.0.0.1");
const port = Number(arg("port", "0"));
const bun = (globalThis as { Bun?: BunLike }).Bun;
let boundPort: number;
if (bun) {
  // idleTimeout is in seconds; the default (10) would cut idle keep-alive sockets between cells.
  boundPort = bun.serve({ hostname, port, idleTimeout: 120, fetch: handle }).port;
} else {
  const server = Deno.serve({ hostname, port, onListen: () => {} }, handle);
  boundPort = server.addr.port;
}
console.log(JSON.stringify({ listening: `http://${hostname}:${boundPort}` }));
