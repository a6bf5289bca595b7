/**
 * Load: 500 concurrent streaming requests against a slow fake upstream (20 chunks, 10–20 ms
 * apart). Every client must get exactly its own answer in a correct event grammar; the peak
 * RSS of the process (proxy, fake upstream and clients together) is sampled and printed.
 * No timing assertions; a generous memory bound only.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect } from "node:net";
import {
  chunk,
  type FakeUpstream,
  type SseStep,
  startFakeUpstream,
  usageChunk,
} from "./helpers/fake_upstream.ts";
import { startProxy, type TestProxy } from "./helpers/proxy.ts";

const CLIENTS = 500;
const CHUNKS = 20;

type Event = { event: string; data: Record<string, unknown> };

function parseSse(text: string): Event[] {
  const out: Event[] = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    let event = "";
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    out.push({ event, data: JSON.parse(data) });
  }
  return out;
}

/**
 * A bare HTTP/1.1 client on node:net. Not fetch: Bun allows 256 fetches in flight per process
 * (BUN_CONFIG_MAX_HTTP_REQUESTS), and with 500 client fetches holding every slot the proxy's
 * own upstream fetches, in this same process, would wait forever.
 */
function rawPost(
  port: number,
  path: string,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const parts: Buffer[] = [];
    socket.on("connect", () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    socket.on("data", (d: Buffer) => parts.push(d));
    socket.on("error", reject);
    socket.on("close", () => {
      const raw = Buffer.concat(parts);
      const split = raw.indexOf("\r\n\r\n");
      const head = raw.subarray(0, split).toString("latin1");
      let rest = raw.subarray(split + 4);
      const status = Number(head.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
      if (!/transfer-encoding:\s*chunked/i.test(head)) {
        return resolve({ status, text: rest.toString("utf8") });
      }
      const out: Buffer[] = [];
      for (;;) {
        const eol = rest.indexOf("\r\n");
        const size = parseInt(rest.subarray(0, eol).toString("latin1"), 16);
        if (!(size > 0)) break;
        out.push(rest.subarray(eol + 2, eol + 2 + size));
        rest = rest.subarray(eol + 2 + size + 2);
      }
      resolve({ status, text: Buffer.concat(out).toString("utf8") });
    });
  });
}

/** Opens a streaming request and hangs up as soon as the first bytes of the answer arrive. */
function postAndLeave(port: number, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.write(
        `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    socket.once("data", () => {
      socket.destroy();
      resolve();
    });
    socket.on("error", reject);
  });
}

/**
 * The Anthropic streaming grammar (https://docs.anthropic.com/en/api/messages-streaming), as
 * the SDK's MessageStream enforces it. Returns the text and tool input of each block.
 */
function checkGrammar(
  events: Event[],
): { blocks: { type: string; content: string }[]; stop: unknown } {
  assert.equal(events[0]?.event, "message_start", "message_start comes first");
  assert.equal(events.filter((e) => e.event === "message_start").length, 1, "message_start once");
  const blocks: { type: string; content: string }[] = [];
  let open: number | undefined;
  let stop: unknown;
  let sawDelta = false;
  for (const [i, e] of events.entries()) {
    assert.equal(e.data.type, e.event, "event name matches data.type");
    switch (e.event) {
      case "message_start":
      case "ping":
        break;
      case "content_block_start": {
        assert.equal(open, undefined, "one block open at a time");
        assert.equal(e.data.index, blocks.length, "indexes 0,1,2… in start order");
        assert.ok(!sawDelta, "no block after message_delta");
        open = blocks.length;
        blocks.push({ type: (e.data.content_block as { type: string }).type, content: "" });
        break;
      }
      case "content_block_delta": {
        assert.equal(e.data.index, open, "delta for the open block");
        const block = blocks[open!]!;
        const delta = e.data.delta as Record<string, string>;
        const expected: Record<string, string[]> = {
          text: ["text_delta"],
          tool_use: ["input_json_delta"],
          thinking: ["thinking_delta", "signature_delta"],
        };
        assert.ok(
          expected[block.type]?.includes(delta.type!),
          `${delta.type} in a ${block.type} block`,
        );
        block.content += delta.text ?? delta.partial_json ?? delta.thinking ?? "";
        break;
      }
      case "content_block_stop":
        assert.equal(e.data.index, open, "stop closes the open block");
        open = undefined;
        break;
      case "message_delta":
        assert.equal(open, undefined, "all blocks closed before message_delta");
        assert.ok(!sawDelta, "message_delta once");
        sawDelta = true;
        stop = (e.data.delta as { stop_reason: unknown }).stop_reason;
        break;
      case "message_stop":
        assert.ok(sawDelta, "message_delta before message_stop");
        assert.equal(i, events.length - 1, "message_stop last");
        break;
      default:
        assert.fail(`unexpected event ${e.event}: ${JSON.stringify(e.data)}`);
    }
  }
  assert.equal(events[events.length - 1]?.event, "message_stop");
  return { blocks, stop };
}

/** What client `n` asks, and what the fake upstream answers it: distinct for every client. */
function script(n: number): { words: string[]; tool: boolean } {
  const words = Array.from(
    { length: CHUNKS - 2 },
    (_, i) => `c${n}w${i}${i % 5 === 0 ? "é✓" : ""} `,
  );
  return { words, tool: n % 10 === 0 };
}

function upstreamSteps(n: number): SseStep[] {
  const { words, tool } = script(n);
  const steps: SseStep[] = [chunk({ role: "assistant", content: "" })];
  const gap = (i: number) => ({ waitMs: 10 + ((n * 7 + i * 3) % 11) });
  for (const [i, w] of words.entries()) {
    steps.push(chunk({ content: w }), gap(i));
  }
  if (tool) {
    steps.push(
      chunk({
        tool_calls: [{
          index: 0,
          id: `call_${n}`,
          type: "function",
          function: { name: "lookup", arguments: `{"n":` },
        }],
      }),
    );
    steps.push(chunk({ tool_calls: [{ index: 0, function: { arguments: `${n}}` } }] }));
  }
  steps.push(
    chunk({}, tool ? "tool_calls" : "stop"),
    usageChunk({ prompt_tokens: 5, completion_tokens: CHUNKS }),
  );
  return steps;
}

describe(`load: ${CLIENTS} concurrent streams`, () => {
  let up: FakeUpstream;
  let proxy: TestProxy;
  before(async () => {
    up = await startFakeUpstream((req) => {
      const n = Number(String(req.body?.messages?.[0]?.content ?? "").replace("client ", ""));
      return { sse: upstreamSteps(n) };
    });
    // INFO: a DEBUG log of 500 request bodies would measure the logger, not the proxy.
    proxy = startProxy({ OPENAI_BASE_URL: up.url, LOG_LEVEL: "WARNING", PING_INTERVAL: "5" });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  it("every client gets exactly its own answer, in a correct grammar; peak RSS is printed", async () => {
    let peak = process.memoryUsage().rss;
    const baseline = peak;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 25);
    const started = Date.now();
    let results: { n: number; status: number; text: string }[];
    try {
      results = await Promise.all(Array.from({ length: CLIENTS }, async (_, n) => {
        const body = JSON.stringify({
          model: "claude-sonnet-4-6",
          max_tokens: 100,
          stream: true,
          messages: [{ role: "user", content: `client ${n}` }],
          tools: [{
            name: "lookup",
            input_schema: { type: "object", properties: { n: { type: "number" } } },
          }],
        });
        return { n, ...(await rawPost(proxy.port, "/v1/messages", body)) };
      }));
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MB`;
    console.log(
      `load: ${CLIENTS} streams × ${CHUNKS} chunks in ${Date.now() - started} ms; ` +
        `peak RSS ${mb(peak)} (baseline ${mb(baseline)}, +${mb(peak - baseline)})`,
    );

    assert.equal(up.requests.length, CLIENTS);
    for (const { n, status, text } of results) {
      assert.equal(status, 200, `client ${n}`);
      const { blocks, stop } = checkGrammar(parseSse(text));
      const { words, tool } = script(n);
      assert.equal(blocks[0]?.type, "text");
      assert.equal(blocks[0]?.content, words.join(""), `client ${n} got its own text, all of it`);
      if (tool) {
        assert.equal(blocks.length, 2);
        assert.equal(blocks[1]!.type, "tool_use");
        assert.deepEqual(JSON.parse(blocks[1]!.content), { n });
        assert.equal(stop, "tool_use");
      } else {
        assert.equal(blocks.length, 1);
        assert.equal(stop, "end_turn");
      }
    }
    assert.ok(peak < 1024 * 1024 * 1024, `peak RSS ${mb(peak)} stays under 1 GB`);
  });

  it("half the clients hang up mid-stream: their upstream requests stop, the others finish intact", async () => {
    const before = up.requests.length;
    const N = 200;
    const body = (n: number) =>
      JSON.stringify({
        model: "claude-sonnet-4-6",
        max_tokens: 100,
        stream: true,
        messages: [{ role: "user", content: `client ${n}` }],
        tools: [{
          name: "lookup",
          input_schema: { type: "object", properties: { n: { type: "number" } } },
        }],
      });
    const stayers: Promise<{ n: number; status: number; text: string }>[] = [];
    const leavers: Promise<void>[] = [];
    for (let n = 1000; n < 1000 + N; n++) {
      if (n % 2 === 0) {
        stayers.push(rawPost(proxy.port, "/v1/messages", body(n)).then((r) => ({ n, ...r })));
      } else leavers.push(postAndLeave(proxy.port, body(n)));
    }
    await Promise.all(leavers);
    for (const { n, status, text } of await Promise.all(stayers)) {
      assert.equal(status, 200);
      assert.equal(
        checkGrammar(parseSse(text)).blocks[0]?.content,
        script(n).words.join(""),
        `client ${n}`,
      );
    }
    const mine = up.requests.slice(before);
    assert.equal(mine.length, N);
    for (const rec of mine) {
      const n = Number(String(rec.body.messages[0].content).replace("client ", ""));
      if (n % 2 === 0) continue;
      await rec.closed;
      assert.equal(rec.abortedEarly(), true, `client ${n} left, so its upstream request must stop`);
    }
  });
});
