/**
 * The benchmark's floor for a translating proxy: the least a runtime must do to answer an
 * Anthropic Messages request from an OpenAI Chat Completions upstream, and nothing more. No
 * validation, no error mapping, no timeouts, no logs. The proxy is measured against it per
 * runtime (`minimal-deno`, `minimal-bun` in run.ts): its cost over this is the cost of the
 * proxy's own code. It reads the same variables as the proxy (OPENAI_BASE_URL, OPENAI_API_KEY,
 * HOST, PORT, BIG_MODEL, SMALL_MODEL). Its upstream transport is the one a small program would
 * pick: node:http under Deno (whose fetch reads streams at several times the CPU), fetch under
 * Bun. The proxy under Deno has its own HTTP/1.1 client instead (lib/runtime/socket_transport.ts).
 */
import process from "node:process";
import http from "node:http";

type Obj = Record<string, unknown>;
type Handler = (req: Request) => Response | Promise<Response>;
type BunLike = {
  serve(o: { hostname: string; port: number; idleTimeout: number; fetch: Handler }): unknown;
};
type DenoLike = {
  serve(o: { hostname: string; port: number; onListen(): void }, h: Handler): unknown;
};

const env = process.env;
const base = `${env.OPENAI_BASE_URL ?? "https://api.openai.com/v1"}/chat/completions`;
const auth = `Bearer ${env.OPENAI_API_KEY ?? ""}`;
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });
const enc = new TextEncoder();
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string =>
  typeof v === "string" ? v : list(v).map((b) => String(b.text ?? "")).join("\n");

function toOpenAI(a: Obj): Obj {
  const messages: Obj[] = [];
  if (a.system !== undefined) messages.push({ role: "system", content: text(a.system) });
  for (const m of list(a.messages)) messages.push({ role: m.role, content: text(m.content) });
  const tools = list(a.tools).map((t) => ({
    type: "function",
    function: { name: t.name, description: t.description, parameters: t.input_schema },
  }));
  const model = String(a.model).includes("haiku") ? env.SMALL_MODEL : env.BIG_MODEL;
  return {
    model: model ?? "gpt-4o",
    messages,
    max_tokens: a.max_tokens,
    stream: a.stream === true,
    ...(a.stream === true ? { stream_options: { include_usage: true } } : {}),
    ...(tools.length ? { tools } : {}),
  };
}

type Upstream = {
  status: number;
  /** Hands every body chunk to `onData`, then calls `onEnd`; no backpressure, no abort. */
  read(onData: (bytes: Uint8Array) => void, onEnd: () => void): void;
};

async function post(body: string): Promise<Upstream> {
  const headers = { "content-type": "application/json", authorization: auth };
  if ("Bun" in globalThis) {
    const res = await fetch(base, { method: "POST", headers, body });
    return {
      status: res.status,
      read: async (onData, onEnd) => {
        if (res.body) { for await (const bytes of res.body) onData(bytes); }
        onEnd();
      },
    };
  }
  return await new Promise((resolve, reject) => {
    const req = http.request(base, { method: "POST", headers, agent }, (res) => {
      resolve({
        status: res.statusCode ?? 502,
        read: (onData, onEnd) => res.on("data", onData).on("end", onEnd),
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const usage = (u: Obj) => {
  const cached = Number((u.prompt_tokens_details as Obj | undefined)?.cached_tokens ?? 0);
  return { input_tokens: Number(u.prompt_tokens) - cached, output_tokens: u.completion_tokens };
};
const stopReason = (f: unknown) => (f === "tool_calls" ? "tool_use" : "end_turn");
const sse = (e: Obj) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

/** OpenAI stream chunks → Anthropic events: one text block, then one block per tool call. */
class Translator {
  #dec = new TextDecoder();
  #buf = "";
  #block = -1;
  #isText = false;
  #finish: unknown = null;
  #usage: Obj = {};

  start(model: unknown): string {
    const id = `msg_${crypto.randomUUID()}`;
    const message = { id, type: "message", role: "assistant", model, content: [], usage: {} };
    return sse({ type: "message_start", message });
  }

  push(bytes: Uint8Array): string {
    this.#buf += this.#dec.decode(bytes, { stream: true });
    const lines = this.#buf.split("\n");
    this.#buf = lines.pop() ?? "";
    let out = "";
    for (const line of lines) {
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const c = JSON.parse(line.slice(6)) as Obj;
      if (c.usage) this.#usage = c.usage as Obj;
      const choice = list(c.choices)[0];
      if (!choice) continue;
      this.#finish = choice.finish_reason ?? this.#finish;
      const d = (choice.delta ?? {}) as Obj;
      if (typeof d.content === "string" && d.content !== "") {
        if (!this.#isText) {
          out += this.#open({ type: "text", text: "" });
          this.#isText = true;
        }
        const delta = { type: "text_delta", text: d.content };
        out += sse({ type: "content_block_delta", index: this.#block, delta });
      }
      for (const t of list(d.tool_calls)) {
        const f = (t.function ?? {}) as Obj;
        if (t.id) {
          out += this.#open({ type: "tool_use", id: t.id, name: f.name, input: {} });
          this.#isText = false;
        }
        if (f.arguments) {
          const delta = { type: "input_json_delta", partial_json: f.arguments };
          out += sse({ type: "content_block_delta", index: this.#block, delta });
        }
      }
    }
    return out;
  }

  #open(block: Obj): string {
    const stop = this.#block >= 0 ? sse({ type: "content_block_stop", index: this.#block }) : "";
    return stop + sse({ type: "content_block_start", index: ++this.#block, content_block: block });
  }

  finish(): string {
    const stop = this.#block >= 0 ? sse({ type: "content_block_stop", index: this.#block }) : "";
    const delta = { stop_reason: stopReason(this.#finish) };
    return stop + sse({ type: "message_delta", delta, usage: usage(this.#usage) }) +
      sse({ type: "message_stop" });
  }
}

function streamBody(up: Upstream, model: unknown): ReadableStream<Uint8Array> {
  const t = new Translator();
  return new ReadableStream({
    start(controller) {
      controller.enqueue(enc.encode(t.start(model)));
      up.read((bytes) => {
        const out = t.push(bytes);
        if (out) controller.enqueue(enc.encode(out));
      }, () => {
        controller.enqueue(enc.encode(t.finish()));
        controller.close();
      });
    },
  });
}

async function handle(req: Request): Promise<Response> {
  if (req.method === "GET") return new Response("ok");
  const a = (await req.json()) as Obj;
  const up = await post(JSON.stringify(toOpenAI(a)));
  if (a.stream === true) {
    const headers = { "content-type": "text/event-stream" };
    return new Response(streamBody(up, a.model), { status: up.status, headers });
  }
  let raw = "";
  const dec = new TextDecoder();
  await new Promise<void>((done) => up.read((b) => (raw += dec.decode(b, { stream: true })), done));
  const o = JSON.parse(raw) as Obj;
  const choice = list(o.choices)[0] ?? {};
  const m = (choice.message ?? {}) as Obj;
  const content: Obj[] = m.content ? [{ type: "text", text: m.content }] : [];
  for (const t of list(m.tool_calls)) {
    const f = t.function as Obj;
    const input = JSON.parse(String(f.arguments));
    content.push({ type: "tool_use", id: t.id, name: f.name, input });
  }
  const id = `msg_${crypto.randomUUID()}`;
  const stop_reason = stopReason(choice.finish_reason);
  const message = { id, type: "message", role: "assistant", model: a.model, content, stop_reason };
  return Response.json({ ...message, usage: usage((o.usage ?? {}) as Obj) }, {
    status: up.status,
  });
}

const hostname = env.HOST ?? "127.0.0.1";
const port = Number(env.PORT ?? 8082);
const runtime = globalThis as { Bun?: BunLike; Deno?: DenoLike };
if (runtime.Bun) runtime.Bun.serve({ hostname, port, idleTimeout: 0, fetch: handle });
else runtime.Deno?.serve({ hostname, port, onListen: () => {} }, handle);
