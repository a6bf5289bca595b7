/**
 * A scripted, recording, fault-injecting fake OpenAI Chat Completions server on 127.0.0.1.
 * Built on node:http so the same code runs under Deno and Bun, and so a test can see the
 * proxy's connection close (client-abort propagation) and can reset sockets mid-answer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Recorded = {
  method: string;
  path: string;
  headers: Record<string, string>;
  rawBody: string;
  /** Parsed JSON body, or undefined when it is not JSON. */
  // deno-lint-ignore no-explicit-any
  body: any;
  /** Resolves when the proxy's connection for this request closes. */
  closed: Promise<void>;
  /** True once the connection closed before the reply was finished. */
  abortedEarly: () => boolean;
};

type Common = { status?: number; headers?: Record<string, string>; delayMs?: number };

/** One step of a scripted SSE body: a chunk object (sent as `data: <json>`), raw text, or a pause. */
export type SseStep = { raw: string } | { waitMs: number } | Record<string, unknown>;

export type Reply =
  | (Common & { json: unknown })
  | (Common & { text: string })
  | (Common & {
    sse: SseStep[];
    /** Milliseconds between steps. */
    gapMs?: number;
    /** Send `data: [DONE]` at the end (default true). */
    done?: boolean;
    /** Destroy the socket after the steps instead of ending the body. */
    resetAfter?: boolean;
    /** Keep the connection open after the steps, sending nothing more. */
    stallAfter?: boolean;
  })
  | { reset: true; delayMs?: number }
  | { stall: true };

export type Script = (req: Recorded, index: number) => Reply | Promise<Reply>;

export type FakeUpstream = {
  /** Base URL to use as OPENAI_BASE_URL, ending in /v1. */
  url: string;
  origin: string;
  requests: Recorded[];
  close: () => Promise<void>;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isWait(step: SseStep): step is { waitMs: number } {
  return typeof (step as { waitMs?: unknown }).waitMs === "number" &&
    Object.keys(step).length === 1;
}
function isRaw(step: SseStep): step is { raw: string } {
  return typeof (step as { raw?: unknown }).raw === "string" && Object.keys(step).length === 1;
}

export async function startFakeUpstream(script: Script | Reply[]): Promise<FakeUpstream> {
  const requests: Recorded[] = [];
  const sockets = new Set<Socket>();
  const run: Script = Array.isArray(script)
    ? (_req, i) => script[Math.min(i, script.length - 1)]!
    : script;

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    let finished = false;
    let early = false;
    const closed = new Promise<void>((resolve) => {
      res.on("close", () => {
        if (!finished) early = true;
        resolve();
      });
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string") headers[k] = v;
      else if (Array.isArray(v)) headers[k] = v.join(", ");
    }
    const rec: Recorded = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers,
      rawBody,
      body,
      closed,
      abortedEarly: () => early,
    };
    const index = requests.length;
    requests.push(rec);
    let reply: Reply;
    try {
      reply = await run(rec, index);
    } catch (err) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error: { message: `fake upstream script failed: ${String(err)}` } }),
      );
      return;
    }
    try {
      await respond(req, res, reply);
    } catch {
      // The proxy went away mid-answer; the test looks at `closed`.
    }
    finished = true;
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/v1`,
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function respond(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
  if ("stall" in reply) {
    await new Promise<void>((resolve) => res.on("close", () => resolve()));
    return;
  }
  if (reply.delayMs) await sleep(reply.delayMs);
  if ("reset" in reply) {
    req.socket.destroy();
    return;
  }
  const status = reply.status ?? 200;
  if ("json" in reply) {
    res.writeHead(status, { "content-type": "application/json", ...reply.headers });
    res.end(JSON.stringify(reply.json));
    return;
  }
  if ("text" in reply) {
    res.writeHead(status, { "content-type": "text/html", ...reply.headers });
    res.end(reply.text);
    return;
  }
  res.writeHead(status, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    ...reply.headers,
  });
  res.flushHeaders();
  let gone = false;
  res.on("close", () => (gone = true));
  for (const step of reply.sse) {
    if (gone) return;
    if (isWait(step)) {
      await sleep(step.waitMs);
      continue;
    }
    res.write(isRaw(step) ? step.raw : `data: ${JSON.stringify(step)}\n\n`);
    if (reply.gapMs) await sleep(reply.gapMs);
  }
  if (gone) return;
  if (reply.resetAfter) {
    req.socket.destroy();
    return;
  }
  if (reply.stallAfter) {
    await new Promise<void>((resolve) => res.on("close", () => resolve()));
    return;
  }
  if (reply.done !== false) res.write("data: [DONE]\n\n");
  res.end();
}

// ---------------------------------------------------------------------------------------------
// Builders for OpenAI-shaped answers.

export type UsageIn = { prompt_tokens: number; completion_tokens: number; cached_tokens?: number };

export function usageObject(u: UsageIn) {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.prompt_tokens + u.completion_tokens,
    ...(u.cached_tokens !== undefined
      ? { prompt_tokens_details: { cached_tokens: u.cached_tokens } }
      : {}),
  };
}

export function chunk(
  delta: Record<string, unknown>,
  finish: string | null = null,
  extra: Record<string, unknown> = {},
) {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "fake-model",
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...extra,
  };
}

export function usageChunk(u: UsageIn) {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "fake-model",
    choices: [],
    usage: usageObject(u),
  };
}

/** Splits text into `parts` roughly equal pieces (at least one). */
export function splitText(text: string, parts: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, parts)));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [""];
}

export function textStream(
  text: string,
  opts: { parts?: number; finish?: string; usage?: UsageIn | null; reasoning?: string } = {},
): SseStep[] {
  const steps: SseStep[] = [chunk({ role: "assistant", content: "" })];
  if (opts.reasoning) {
    for (const piece of splitText(opts.reasoning, 3)) {
      steps.push(chunk({ reasoning_content: piece }));
    }
  }
  for (const piece of splitText(text, opts.parts ?? 3)) steps.push(chunk({ content: piece }));
  steps.push(chunk({}, opts.finish ?? "stop"));
  if (opts.usage !== null) {
    steps.push(usageChunk(opts.usage ?? { prompt_tokens: 11, completion_tokens: 7 }));
  }
  return steps;
}

export type CallSpec = { id: string; name: string; args: string; parts?: number };

export function toolCallStream(
  calls: CallSpec[],
  opts: { text?: string; usage?: UsageIn | null; finish?: string } = {},
): SseStep[] {
  const steps: SseStep[] = [chunk({ role: "assistant", content: null })];
  if (opts.text) steps.push(chunk({ content: opts.text }));
  calls.forEach((c, index) => {
    steps.push(chunk({
      tool_calls: [{
        index,
        id: c.id,
        type: "function",
        function: { name: c.name, arguments: "" },
      }],
    }));
    for (const piece of splitText(c.args, c.parts ?? 3)) {
      steps.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });
  steps.push(chunk({}, opts.finish ?? "tool_calls"));
  if (opts.usage !== null) {
    steps.push(usageChunk(opts.usage ?? { prompt_tokens: 20, completion_tokens: 9 }));
  }
  return steps;
}

export function completion(opts: {
  content?: string | null;
  reasoning_content?: string;
  tool_calls?: { id: string; name: string; args: string }[];
  finish_reason?: string;
  usage?: UsageIn;
}) {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "fake-model",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: opts.content ?? null,
        ...(opts.reasoning_content ? { reasoning_content: opts.reasoning_content } : {}),
        ...(opts.tool_calls
          ? {
            tool_calls: opts.tool_calls.map((c) => ({
              id: c.id,
              type: "function",
              function: { name: c.name, arguments: c.args },
            })),
          }
          : {}),
      },
      finish_reason: opts.finish_reason ?? (opts.tool_calls ? "tool_calls" : "stop"),
    }],
    usage: usageObject(opts.usage ?? { prompt_tokens: 11, completion_tokens: 7 }),
  };
}

/** An OpenAI-shaped error body. */
export function openaiError(
  message: string,
  type = "invalid_request_error",
  code: string | null = null,
) {
  return { error: { message, type, param: null, code } };
}
