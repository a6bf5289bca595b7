/**
 * Client-side faults: clients that leave (the upstream request must stop at once), request
 * bodies over the limit (refused before they are read), malformed input of every kind (a 4xx,
 * never a 5xx or a crash), leaked timers, and graceful shutdown on SIGINT/SIGTERM.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import {
  chunk,
  completion,
  type FakeUpstream,
  type Reply,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import {
  repoRoot,
  startProxy,
  startProxyProcess,
  TEST_UPSTREAM_KEY,
  type TestProxy,
} from "./helpers/proxy.ts";

const MODEL = "claude-sonnet-4-6";
const request = (stream: boolean) => ({
  model: MODEL,
  max_tokens: 64,
  messages: [{ role: "user", content: "hello" }],
  stream,
});

function post(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
}

/** Waits (bounded) until the fake upstream has received `n` requests. */
async function upstreamReceived(up: FakeUpstream, n = 1): Promise<void> {
  for (let i = 0; i < 500 && up.requests.length < n; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(up.requests.length >= n, `upstream saw ${up.requests.length} requests, expected ${n}`);
}

/** A long, slow answer: the client always leaves long before it is over. */
const SLOW_STREAM: Reply = {
  sse: [
    chunk({ role: "assistant", content: "" }),
    ...Array.from({ length: 500 }, (_, i) => chunk({ content: `w${i} ` })),
  ],
  gapMs: 20,
};

describe("a client that leaves aborts the upstream request at once", () => {
  let up: FakeUpstream;
  let proxy: TestProxy;
  const replies: Reply[] = [];
  before(async () => {
    up = await startFakeUpstream((_req, i) => replies[i] ?? { json: completion({ content: "x" }) });
    proxy = startProxy({ OPENAI_BASE_URL: up.url, PING_INTERVAL: "0.05" });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  it("mid-stream (fetch aborted after the first events)", async () => {
    replies[up.requests.length] = SLOW_STREAM;
    const controller = new AbortController();
    const res = await post(proxy.url, request(true), controller.signal);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /message_start/);
    const id = res.headers.get("request-id")!;
    controller.abort();
    const rec = up.requests[up.requests.length - 1]!;
    await rec.closed;
    assert.equal(
      rec.abortedEarly(),
      true,
      "the upstream connection closed before its answer ended",
    );
    // Logged (and so counted by metrics and the history) as the client leaving, not as an
    // upstream failure.
    const line = () => proxy.logs.find((l) => l.includes(id) && /status=/.test(l));
    for (let i = 0; i < 300 && !line(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(line() ?? "", /status=499/, proxy.logs.join("\n"));
    assert.doesNotMatch(line()!, /overloaded_error|upstream connection failed/);
  });

  it("mid-stream (official SDK, stream.abort())", async () => {
    replies[up.requests.length] = SLOW_STREAM;
    const client = new Anthropic({ baseURL: proxy.url, apiKey: "any", maxRetries: 0 });
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: "user", content: "hi" }],
    });
    let deltas = 0;
    await new Promise<void>((resolve) => {
      stream.on("text", () => {
        if (++deltas === 3) {
          stream.abort();
          resolve();
        }
      });
      stream.on("error", () => resolve());
      stream.on("abort", () => resolve());
    });
    await upstreamReceived(up, 2);
    const rec = up.requests[up.requests.length - 1]!;
    await rec.closed;
    assert.equal(rec.abortedEarly(), true);
  });

  it("while a streaming request waits for the upstream's headers", async () => {
    const n = up.requests.length;
    replies[n] = { stall: true };
    const controller = new AbortController();
    const pending = post(proxy.url, request(true), controller.signal).catch((e: unknown) => e);
    await upstreamReceived(up, n + 1);
    controller.abort();
    await pending;
    const rec = up.requests[n]!;
    await rec.closed;
    assert.equal(rec.abortedEarly(), true);
  });

  it("non-streaming, while the upstream is still thinking", async () => {
    const n = up.requests.length;
    replies[n] = { stall: true };
    const controller = new AbortController();
    const pending = post(proxy.url, request(false), controller.signal).catch((e: unknown) => e);
    await upstreamReceived(up, n + 1);
    controller.abort();
    await pending;
    const rec = up.requests[n]!;
    await rec.closed;
    assert.equal(rec.abortedEarly(), true);
  });

  it("non-streaming, while the upstream's body is arriving", async () => {
    const n = up.requests.length;
    replies[n] = {
      headers: { "content-type": "application/json" },
      sse: [{ raw: '{"id":"chatcmpl-1","choices":[' }],
      stallAfter: true,
    };
    const controller = new AbortController();
    const pending = post(proxy.url, request(false), controller.signal).catch((e: unknown) => e);
    await upstreamReceived(up, n + 1);
    await new Promise((r) => setTimeout(r, 50)); // let the headers reach the proxy
    controller.abort();
    await pending;
    const rec = up.requests[n]!;
    await rec.closed;
    assert.equal(rec.abortedEarly(), true);
  });

  it("while the proxy waits to retry (the retry is never made)", async () => {
    const retrying = startProxy({
      OPENAI_BASE_URL: up.url,
      MAX_RETRIES: "2",
      RETRY_MAX_DELAY: "60",
    });
    try {
      const n = up.requests.length;
      replies[n] = {
        status: 503,
        headers: { "retry-after": "30" },
        json: { error: { message: "busy" } },
      };
      replies[n + 1] = { json: completion({ content: "too late" }) };
      const controller = new AbortController();
      const pending = post(retrying.url, request(false), controller.signal).catch((e: unknown) =>
        e
      );
      await upstreamReceived(up, n + 1);
      controller.abort();
      await pending;
      // The handler ends at once with 499 (client gone) instead of sleeping 30 s.
      for (let i = 0; i < 300 && !retrying.logs.some((l) => /status=499/.test(l)); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(retrying.logs.some((l) => /status=499/.test(l)), retrying.logs.join("\n"));
      assert.equal(up.requests.length, n + 1, "no retry after the client left");
    } finally {
      await retrying.close();
    }
  });

  it("keeps serving after all that", async () => {
    replies[up.requests.length] = { sse: textStream("still here") };
    const res = await post(proxy.url, request(true));
    const text = await res.text();
    const streamed = [...text.matchAll(/"text":"([^"]*)"/g)].map((m) => m[1]).join("");
    assert.equal(streamed, "still here");
    assert.match(text, /message_stop/);
  });
});

describe("no leaked timers or sockets: a process that served and lost clients exits by itself", () => {
  it("exits on its own once proxy and upstream are closed", async () => {
    const helpers = new URL("./helpers/", import.meta.url).href;
    // Defaults for every timeout (600 s, 120 s …): one uncleared timer keeps the process alive.
    const script = `
      const { startFakeUpstream, chunk, textStream, completion } = await import("${helpers}fake_upstream.ts");
      const { startProxy } = await import("${helpers}proxy.ts");
      const slow = { sse: [chunk({ role: "assistant", content: "" }), ...Array.from({ length: 300 }, () => chunk({ content: "x" }))], gapMs: 10 };
      const replies = [slow, { stall: true }, { sse: textStream("done") }, { json: completion({ content: "ok" }) }, { sse: [chunk({ content: "a" })], resetAfter: true }];
      const up = await startFakeUpstream((_r, i) => replies[i]);
      const proxy = startProxy({ OPENAI_BASE_URL: up.url, MAX_RETRIES: "0", PING_INTERVAL: "0.02" });
      const body = (stream) => JSON.stringify({ model: "m", max_tokens: 5, stream, messages: [{ role: "user", content: "x" }] });
      const send = (stream, signal) => fetch(proxy.url + "/v1/messages", { method: "POST", headers: { "content-type": "application/json" }, body: body(stream), signal });
      const c1 = new AbortController();
      const r1 = await send(true, c1.signal);
      await r1.body.getReader().read();
      c1.abort();
      await new Promise((r) => setTimeout(r, 50));
      const c2 = new AbortController();
      const p2 = send(false, c2.signal).catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
      c2.abort();
      await p2;
      await (await send(true)).text();
      await (await send(false)).text();
      await (await send(true)).text();
      await new Promise((r) => setTimeout(r, 100));
      await proxy.close();
      await up.close();
      console.log("CLOSED");
    `;
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
    const args = isBun ? ["-e", script] : ["eval", "--ext=ts", script];
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null | "hung">((resolve) => {
      const guard = setTimeout(() => {
        child.kill("SIGKILL");
        resolve("hung");
      }, 20_000);
      child.on("exit", (c) => {
        clearTimeout(guard);
        resolve(c);
      });
    });
    assert.match(out, /CLOSED/, out);
    assert.equal(code, 0, `the process did not exit by itself:\n${out.slice(-2000)}`);
  });
});

describe("request bodies over MAX_REQUEST_BYTES → 413 request_too_large", () => {
  let up: FakeUpstream;
  let proxy: TestProxy;
  const LIMIT = 4096;
  before(async () => {
    up = await startFakeUpstream([{ json: completion({ content: "x" }) }]);
    proxy = startProxy({ OPENAI_BASE_URL: up.url, MAX_REQUEST_BYTES: String(LIMIT) });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  /**
   * Writes a request over a raw socket, then up to `maxBody` bytes of body in pieces, stopping
   * as soon as a response arrives. Returns the response head and how much body was sent.
   */
  function rawRequest(head: string, piece: string, maxBody: number, chunked: boolean) {
    return new Promise<{ response: string; sent: number }>((resolve, reject) => {
      const socket = connect(proxy.port, "127.0.0.1");
      let response = "";
      let sent = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        socket.destroy();
        resolve({ response, sent });
      };
      socket.on("data", (d: Buffer) => {
        response += d.toString("latin1");
        // Headers and a body (JSON error bodies are small and come in one piece).
        if (/\r\n\r\n[\s\S]*\}/.test(response) || /\r\n0\r\n\r\n$/.test(response)) finish();
      });
      socket.on("error", () => finish());
      socket.on("close", () => finish());
      socket.on("connect", async () => {
        socket.write(head);
        const frame = chunked ? `${piece.length.toString(16)}\r\n${piece}\r\n` : piece;
        while (!done && sent < maxBody) {
          const ok = socket.write(frame);
          sent += piece.length;
          if (!ok) await new Promise((r) => socket.once("drain", r));
          // Let the server's answer in between writes.
          if (sent % (piece.length * 16) === 0) await new Promise((r) => setTimeout(r, 1));
        }
      });
      setTimeout(
        () => (done ? undefined : reject(new Error(`no answer; got: ${response}`))),
        15_000,
      );
    });
  }

  const statusOf = (response: string) => Number(response.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
  const bodyOf = (response: string) => {
    const raw = response.slice(response.indexOf("\r\n\r\n") + 4);
    const json = raw.slice(raw.indexOf("{"), raw.lastIndexOf("}") + 1);
    return JSON.parse(json) as { type: string; error: { type: string; message: string } };
  };

  it("a chunked body without content-length is cut off once it passes the limit", async () => {
    const head =
      `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n`;
    const piece = `{"pad":"${"x".repeat(1000)}"}`.slice(0, 1024);
    const maxBody = 64 * 1024 * 1024;
    const { response, sent } = await rawRequest(head, piece, maxBody, true);
    assert.equal(statusOf(response), 413, response.slice(0, 300));
    const body = bodyOf(response);
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "request_too_large");
    assert.match(body.error.message, /MAX_REQUEST_BYTES/);
    assert.ok(sent < maxBody, `answered before the whole body was sent (${sent} bytes sent)`);
    assert.equal(up.requests.length, 0);
  });

  it("a content-length over the limit is refused before any body arrives", async () => {
    for (const length of [LIMIT + 1, 10 * LIMIT, 50 * 1024 * 1024 * 1024]) {
      const head =
        `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${length}\r\n\r\n`;
      // Send only a little of the declared body: the answer must not wait for the rest.
      const { response } = await rawRequest(head, "{", 1, false);
      assert.equal(statusOf(response), 413, `content-length ${length}: ${response.slice(0, 300)}`);
      assert.equal(bodyOf(response).error.type, "request_too_large");
    }
    assert.equal(up.requests.length, 0);
  });

  it("the same over fetch, and a body just under the limit still works", async () => {
    const big = { ...request(false), messages: [{ role: "user", content: "y".repeat(LIMIT) }] };
    const res = await post(proxy.url, big);
    assert.equal(res.status, 413);
    assert.equal(
      ((await res.json()) as { error: { type: string } }).error.type,
      "request_too_large",
    );
    const small = await post(proxy.url, request(false));
    assert.equal(small.status, 200);
    await small.body?.cancel();
  });

  it("count_tokens has the same limit", async () => {
    const res = await fetch(`${proxy.url}/v1/messages/count_tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: "user", content: "z".repeat(LIMIT * 2) }],
      }),
    });
    assert.equal(res.status, 413);
    await res.body?.cancel();
  });
});

/** Nested `depth` levels deep, built as text so building it cannot overflow the test's stack. */
function nestedArrays(depth: number, inner = "1"): string {
  return "[".repeat(depth) + inner + "]".repeat(depth);
}
function nestedObjects(depth: number, key: string, inner = "{}"): string {
  return `{"${key}":`.repeat(depth) + inner + "}".repeat(depth);
}
function nestedSchema(depth: number): string {
  return '{"type":"object","properties":{"a":'.repeat(depth) + '{"type":"string"}' +
    "}}".repeat(depth);
}

/** A request whose only tool_use input is `depth` objects deep (5 levels below the body). */
function deepToolInput(depth: number): string {
  return valid({
    messages: [{
      role: "assistant",
      content: [{ type: "tool_use", id: "t1", name: "f", input: "__DEEP__" }],
    }, { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] }],
  }).replace('"__DEEP__"', nestedObjects(depth, "k"));
}

type BadInput = {
  name: string;
  body: string | Uint8Array;
  contentType?: string;
  path?: string;
  status?: number;
};

const valid = (patch: Record<string, unknown>) => JSON.stringify({ ...request(false), ...patch });
const user = (content: unknown) => [{ role: "user", content }];
const DEEP = 10_000;

const BAD_INPUTS: BadInput[] = [
  { name: "invalid JSON", body: '{"model": "x", "messages": [' },
  { name: "trailing garbage after JSON", body: valid({}) + "}}" },
  { name: "empty body", body: "" },
  { name: "whitespace body", body: "   \n" },
  { name: "JSON null", body: "null" },
  { name: "JSON array", body: "[]" },
  { name: "JSON string", body: '"hello"' },
  { name: "JSON number", body: "42" },
  {
    name: "multipart/form-data",
    body: "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--",
    contentType: "multipart/form-data; boundary=b",
  },
  { name: "application/xml", body: "<messages/>", contentType: "application/xml" },
  { name: "image/png", body: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), contentType: "image/png" },
  {
    name: "non-UTF-8 bytes",
    body: new Uint8Array([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]),
  },
  {
    name: "non-UTF-8 bytes inside a valid request",
    body: (() => {
      const text = valid({ messages: user("AAAA") });
      const bytes = new TextEncoder().encode(text);
      const at = text.indexOf("AAAA");
      bytes.set([0xc0, 0xaf, 0xed, 0xa0], at); // overlong encoding and a lone surrogate
      return bytes;
    })(),
  },
  {
    name: "lone surrogate escape in a string (valid JSON)",
    body: valid({ messages: user("\\ud800") }).replace("\\\\ud800", "\\ud800"),
    status: 200,
  },
  { name: "missing model", body: JSON.stringify({ max_tokens: 5, messages: user("x") }) },
  { name: "model is a number", body: valid({ model: 123 }) },
  { name: "empty model", body: valid({ model: "" }) },
  { name: "missing max_tokens", body: JSON.stringify({ model: MODEL, messages: user("x") }) },
  { name: "negative max_tokens", body: valid({ max_tokens: -1 }) },
  { name: "zero max_tokens", body: valid({ max_tokens: 0 }) },
  { name: "fractional max_tokens", body: valid({ max_tokens: 1.5 }) },
  { name: "max_tokens 1e20", body: valid({ max_tokens: 1e20 }) },
  { name: "max_tokens 1e308", body: valid({ max_tokens: 1e308 }) },
  {
    name: "max_tokens 1e400 (Infinity)",
    body: valid({}).replace('"max_tokens":64', '"max_tokens":1e400'),
  },
  { name: "max_tokens as a string", body: valid({ max_tokens: "64" }) },
  { name: "temperature 1e308", body: valid({ temperature: 1e308 }) },
  { name: "negative temperature", body: valid({ temperature: -0.5 }) },
  { name: "top_p 7", body: valid({ top_p: 7 }) },
  { name: "top_k -3", body: valid({ top_k: -3 }) },
  { name: "stream is a string", body: valid({ stream: "yes" }) },
  { name: "messages is an object", body: valid({ messages: { role: "user", content: "x" } }) },
  { name: "empty messages array", body: valid({ messages: [] }) },
  { name: "unknown role", body: valid({ messages: [{ role: "tool", content: "x" }] }) },
  { name: "role missing", body: valid({ messages: [{ content: "x" }] }) },
  { name: "content is a number", body: valid({ messages: user(5) }) },
  { name: "content is null", body: valid({ messages: user(null) }) },
  { name: "text block without text", body: valid({ messages: user([{ type: "text" }]) }) },
  {
    name: "text block with a numeric text",
    body: valid({ messages: user([{ type: "text", text: 7 }]) }),
  },
  { name: "block without a type", body: valid({ messages: user([{ text: "x" }]) }) },
  { name: "block that is a string", body: valid({ messages: user(["x"]) }) },
  { name: "image block without source", body: valid({ messages: user([{ type: "image" }]) }) },
  {
    name: "image block with an unknown source type",
    body: valid({ messages: user([{ type: "image", source: { type: "ftp", url: "x" } }]) }),
  },
  {
    name: "image block with base64 source missing data",
    body: valid({
      messages: user([{ type: "image", source: { type: "base64", media_type: "image/png" } }]),
    }),
  },
  {
    name: "tool_use without id",
    body: valid({
      messages: [{ role: "assistant", content: [{ type: "tool_use", name: "f", input: {} }] }],
    }),
  },
  {
    name: "tool_result without tool_use_id",
    body: valid({ messages: user([{ type: "tool_result", content: "x" }]) }),
  },
  {
    name: "tool_result with numeric content",
    body: valid({ messages: user([{ type: "tool_result", tool_use_id: "t", content: 5 }]) }),
  },
  {
    name: "thinking block without thinking",
    body: valid({ messages: [{ role: "assistant", content: [{ type: "thinking" }] }] }),
  },
  {
    name: "only content with no OpenAI form (a Files API image)",
    body: valid({
      messages: user([{ type: "image", source: { type: "file", file_id: "file_1" } }]),
    }),
  },
  { name: "system is a number", body: valid({ system: 5 }) },
  { name: "system block without text", body: valid({ system: [{ type: "text" }] }) },
  { name: "tools is an object", body: valid({ tools: { name: "f" } }) },
  { name: "tool without a name", body: valid({ tools: [{ input_schema: { type: "object" } }] }) },
  {
    name: "tool with input_schema as a string",
    body: valid({ tools: [{ name: "f", input_schema: "object" }] }),
  },
  { name: "unknown tool_choice", body: valid({ tool_choice: { type: "sometimes" } }) },
  { name: "stop_sequences with a number", body: valid({ stop_sequences: ["a", 1] }) },
  { name: "metadata.user_id is a number", body: valid({ metadata: { user_id: 5 } }) },
  {
    name: "thinking budget negative",
    body: valid({ thinking: { type: "enabled", budget_tokens: -5 } }),
  },
  {
    name: `nested arrays ${DEEP} deep in a tool input`,
    body: valid({
      messages: [{
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "f", input: { a: "__DEEP__" } }],
      }, { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] }],
    }).replace('"__DEEP__"', nestedArrays(DEEP)),
  },
  {
    name: `objects ${DEEP} deep in a tool input`,
    body: valid({
      messages: [{
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "f", input: "__DEEP__" }],
      }],
    }).replace('"__DEEP__"', nestedObjects(DEEP, "k")),
  },
  {
    name: `tool input_schema ${DEEP} deep`,
    body: valid({ tools: [{ name: "f", input_schema: "__DEEP__" }] }).replace(
      '"__DEEP__"',
      nestedSchema(DEEP),
    ),
  },
  {
    name: `arrays ${DEEP} deep in an unknown field`,
    body: valid({ extra: "__DEEP__" }).replace('"__DEEP__"', nestedArrays(DEEP)),
  },
  {
    name: `arrays ${DEEP} deep as the content`,
    body: valid({ messages: user("__DEEP__") }).replace('"__DEEP__"', nestedArrays(DEEP)),
  },
  { name: `arrays ${DEEP * 10} deep as the body`, body: nestedArrays(DEEP * 10) },
  {
    name: `nested document content ${DEEP} deep`,
    body: valid({
      messages: user([{ type: "document", source: { type: "content", content: "__DEEP__" } }]),
    }).replace('"__DEEP__"', nestedArrays(DEEP)),
  },
  { name: "count_tokens: invalid JSON", body: "{", path: "/v1/messages/count_tokens" },
  {
    name: "count_tokens: empty messages",
    body: JSON.stringify({ model: MODEL, messages: [] }),
    path: "/v1/messages/count_tokens",
  },
  {
    name: `count_tokens: tool input ${DEEP} deep`,
    path: "/v1/messages/count_tokens",
    body: JSON.stringify({
      model: MODEL,
      messages: [{
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "f", input: "__DEEP__" }],
      }],
    }).replace('"__DEEP__"', nestedObjects(DEEP, "k")),
  },
  {
    name: `count_tokens: tool schema ${DEEP} deep`,
    path: "/v1/messages/count_tokens",
    body: JSON.stringify({
      model: MODEL,
      messages: user("x"),
      tools: [{ name: "f", input_schema: "__DEEP__" }],
    }).replace('"__DEEP__"', nestedSchema(DEEP)),
  },
  // The limit is 512 levels for the whole body: the tool input starts 5 levels down.
  { name: "a tool input 500 deep in all (legal)", body: deepToolInput(495), status: 200 },
  { name: "a tool input 520 deep in all", body: deepToolInput(515) },
  { name: "the same tool input 520 deep, again", body: deepToolInput(515) },
];

describe("malformed input → a 4xx Anthropic error, never a 5xx, never a crash", () => {
  let up: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startFakeUpstream([{ json: completion({ content: "fine" }) }]);
    proxy = startProxy({ OPENAI_BASE_URL: up.url });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  for (const input of BAD_INPUTS) {
    const expect = input.status ?? 400;
    it(`${input.name} → ${expect === 400 ? "4xx" : expect}`, async () => {
      const res = await fetch(`${proxy.url}${input.path ?? "/v1/messages"}`, {
        method: "POST",
        headers: { "content-type": input.contentType ?? "application/json" },
        body: typeof input.body === "string" ? input.body : new Uint8Array(input.body),
      });
      const text = await res.text();
      if (expect === 200) {
        assert.equal(res.status, 200, text.slice(0, 300));
        return;
      }
      assert.ok(
        res.status >= 400 && res.status < 500,
        `status ${res.status}: ${text.slice(0, 300)}`,
      );
      const body = JSON.parse(text) as { type: string; error: { type: string; message: string } };
      assert.equal(body.type, "error");
      assert.ok(
        ["invalid_request_error", "request_too_large"].includes(body.error.type),
        body.error.type,
      );
      assert.ok(body.error.message.length > 0);
      assert.ok(body.error.message.length < 2000, "messages stay short, even for huge inputs");
      if (input.contentType?.startsWith("multipart/")) assert.ok([400, 415].includes(res.status));
    });
  }

  for (const id of ["%ff", "%E0%A4%A", "claude%"]) {
    it(`GET /v1/models/${id} (a malformed percent-escape) → 400`, async () => {
      const res = await fetch(`${proxy.url}/v1/models/${id}`);
      const body = await res.json() as { type: string; error: { type: string } };
      assert.equal(res.status, 400);
      assert.equal(body.error.type, "invalid_request_error");
    });
  }

  it("the proxy is still alive and the logs show no internal error", async () => {
    const res = await fetch(`${proxy.url}/health`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(
      !proxy.logs.some((l) => /unexpected error|internal proxy error/.test(l)),
      proxy.logs.filter((l) => /unexpected/.test(l)).join("\n").slice(0, 2000),
    );
  });
});

describe("graceful shutdown (main.ts as a child process)", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal}: stops accepting, lets the in-flight stream finish, exits 0`, async () => {
      const words = Array.from({ length: 25 }, (_, i) => `w${i} `);
      const up = await startFakeUpstream([{
        sse: [
          chunk({ role: "assistant", content: "" }),
          ...words.map((w) => chunk({ content: w })),
          chunk({}, "stop"),
        ],
        gapMs: 30,
      }]);
      const child = startProxyProcess({
        OPENAI_BASE_URL: up.url,
        OPENAI_API_KEY: TEST_UPSTREAM_KEY,
        PORT: "0",
        SHUTDOWN_GRACE: "10",
        LOG_LEVEL: "INFO",
      });
      try {
        const port = await child.listening;
        const res = await post(`http://127.0.0.1:${port}`, request(true));
        assert.equal(res.status, 200);
        const reader = res.body!.getReader();
        let text = new TextDecoder().decode((await reader.read()).value);
        child.kill(signal);
        for (let i = 0; i < 200 && !/shutting down/.test(child.output()); i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.match(child.output(), /shutting down/);
        // A new connection is refused while the old stream goes on.
        const refused = await new Promise<boolean>((resolve) => {
          const s = connect(port, "127.0.0.1");
          s.on("connect", () => {
            s.destroy();
            resolve(false);
          });
          s.on("error", () => resolve(true));
        });
        assert.equal(refused, true, "the listener is closed after the signal");
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value, { stream: true });
        }
        assert.match(text, /event: message_stop/);
        const streamed = [...text.matchAll(/"text":"(w\d+ )"/g)].map((m) => m[1]).join("");
        assert.equal(streamed, words.join(""));
        assert.equal(await child.exited, 0);
      } finally {
        child.kill("SIGKILL");
        await child.exited;
        await up.close();
      }
    });
  }

  /** Reads a stream to its end (bounded by the stream itself). */
  async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
    let text = "";
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  }

  for (
    const [name, grace, signals] of [
      ["a stream longer than SHUTDOWN_GRACE", "0.3", ["SIGTERM"]],
      ["a second Ctrl-C during the drain", "30", ["SIGINT", "SIGINT"]],
    ] as const
  ) {
    it(`${name}: the stream ends with a retryable event: error, is logged, and the process exits 0`, async () => {
      const up = await startFakeUpstream([SLOW_STREAM]);
      const child = startProxyProcess({
        OPENAI_BASE_URL: up.url,
        OPENAI_API_KEY: TEST_UPSTREAM_KEY,
        PORT: "0",
        SHUTDOWN_GRACE: grace,
        LOG_LEVEL: "INFO",
      });
      try {
        const port = await child.listening;
        const res = await post(`http://127.0.0.1:${port}`, request(true));
        const reader = res.body!.getReader();
        await reader.read();
        for (const signal of signals) {
          child.kill(signal);
          for (let i = 0; i < 200 && !/shutting down/.test(child.output()); i++) {
            await new Promise((r) => setTimeout(r, 10));
          }
        }
        const text = await readAll(reader);
        assert.match(text, /event: error\ndata: .*"overloaded_error".*shutting down/);
        assert.equal(await child.exited, 0);
        assert.match(child.output(), /INFO +request .*status=529/);
      } finally {
        child.kill("SIGKILL");
        await child.exited;
        await up.close();
      }
    });
  }

  for (const chained of [false, true]) {
    it(
      `a request still waiting for the upstream when SHUTDOWN_GRACE ends gets a retryable 529, not a closed connection${
        chained ? " (a fallback chain: not handed to its next entry)" : ""
      }`,
      async () => {
        const up = await startFakeUpstream(() => ({ stall: true }));
        const spare = await startFakeUpstream(() => ({ stall: true }));
        const dir = mkdtempSync(join(tmpdir(), "ccp-shutdown-"));
        const config = join(dir, "ccp.json");
        writeFileSync(
          config,
          JSON.stringify({
            providers: {
              a: { base_url: up.url, api_key: "${KEY_A}", models: ["m1"] },
              b: { base_url: spare.url, api_key: "${KEY_A}", models: ["m2"] },
            },
            models: { sonnet: ["a/m1", "b/m2"], opus: ["a/m1", "b/m2"], haiku: ["a/m1", "b/m2"] },
          }),
        );
        const child = startProxyProcess({
          OPENAI_BASE_URL: up.url,
          OPENAI_API_KEY: TEST_UPSTREAM_KEY,
          KEY_A: TEST_UPSTREAM_KEY,
          PORT: "0",
          SHUTDOWN_GRACE: "0.3",
          LOG_LEVEL: "INFO",
          ...(chained ? { CONFIG_FILE: config } : {}),
        });
        try {
          const port = await child.listening;
          const waiting = [false, true].map((stream) =>
            post(`http://127.0.0.1:${port}`, request(stream)).then(async (res) => ({
              status: res.status,
              retry: res.headers.get("x-should-retry"),
              body: await res.json() as { error: { type: string; message: string } },
            }))
          );
          for (let i = 0; i < 200 && up.requests.length < 2; i++) {
            await new Promise((r) => setTimeout(r, 10));
          }
          child.kill("SIGTERM");
          for (const answer of await Promise.all(waiting)) {
            assert.equal(answer.status, 529);
            assert.equal(answer.retry, "true");
            assert.equal(answer.body.error.type, "overloaded_error");
            assert.match(answer.body.error.message, /shutting down/);
          }
          assert.equal(await child.exited, 0);
          assert.equal([...child.output().matchAll(/INFO +request .*status=529/g)].length, 2);
          assert.equal(spare.requests.length, 0, "nothing is sent to the next entry");
        } finally {
          child.kill("SIGKILL");
          await child.exited;
          await up.close();
          await spare.close();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  }

  it("an idle proxy exits 0 at once on SIGTERM", async () => {
    const child = startProxyProcess({
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      PORT: "0",
      SHUTDOWN_GRACE: "30",
    });
    try {
      await child.listening;
      child.kill("SIGTERM");
      assert.equal(await child.exited, 0);
    } finally {
      child.kill("SIGKILL");
      await child.exited;
    }
  });
});
