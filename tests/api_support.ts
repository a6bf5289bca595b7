/**
 * Shared set-up for the api_*.test.ts files: a real proxy in front of a scripted fake upstream,
 * an official SDK client pointed at it, and a checker for the Anthropic streaming grammar
 * (https://docs.anthropic.com/en/api/messages-streaming) that fails on any event out of place.
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  completion,
  type FakeUpstream,
  type Recorded,
  type Reply,
  startFakeUpstream,
} from "./helpers/fake_upstream.ts";
import { startProxy, TEST_CLIENT_KEY, type TestProxy } from "./helpers/proxy.ts";

export type Harness = {
  proxy: TestProxy;
  upstream: FakeUpstream;
  client: Anthropic;
  /** What the fake upstream answers from now on (one reply per request, the last repeats). */
  reply: (...replies: Reply[]) => void;
  /** The last request the upstream received, parsed. */
  // deno-lint-ignore no-explicit-any
  lastBody: () => any;
  lastRequest: () => Recorded;
  close: () => Promise<void>;
};

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  let replies: Reply[] = [{ json: completion({ content: "ok" }) }];
  let served = 0;
  const upstream = await startFakeUpstream(() => replies[Math.min(served++, replies.length - 1)]!);
  const proxy = startProxy({
    OPENAI_BASE_URL: upstream.url,
    BIG_MODEL: "gpt-4o",
    MIDDLE_MODEL: "gpt-4.1",
    SMALL_MODEL: "gpt-4o-mini",
    ...env,
  });
  const client = new Anthropic({
    baseURL: proxy.url,
    apiKey: env.ANTHROPIC_API_KEY ?? TEST_CLIENT_KEY,
    maxRetries: 0,
  });
  const lastRequest = () => {
    const r = upstream.requests[upstream.requests.length - 1];
    assert.ok(r, "the upstream received no request");
    return r;
  };
  return {
    proxy,
    upstream,
    client,
    reply: (...next) => {
      replies = next;
      served = 0;
    },
    lastRequest,
    lastBody: () => lastRequest().body,
    close: async () => {
      await proxy.close();
      await upstream.close();
    },
  };
}

/** A minimal valid request body, overridable field by field. */
export function body(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: "claude-sonnet-4-6",
    max_tokens: 1024,
    messages: [{ role: "user", content: "Hello" }],
    ...extra,
  };
}

export function postJson(
  url: string,
  value: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY, ...headers },
    body: typeof value === "string" ? value : JSON.stringify(value),
  });
}

// deno-lint-ignore no-explicit-any
export type Sse = { event: string; data: any };

/** Parses a complete SSE body (as the proxy sends it: `event:` + one `data:` line). */
export function parseSse(text: string): Sse[] {
  const out: Sse[] = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    let event = "";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    out.push({ event, data: JSON.parse(data.join("\n")) });
  }
  return out;
}

const DELTA_FOR_BLOCK: Record<string, string[]> = {
  text: ["text_delta"],
  thinking: ["thinking_delta", "signature_delta"],
  tool_use: ["input_json_delta"],
};

/**
 * Asserts the Anthropic stream grammar, ignoring `ping`: message_start first and once; blocks
 * started at indexes 0,1,2… in order, one open at a time, with deltas of their own type;
 * message_delta with a stop reason and output usage after every block closed; message_stop last.
 * Returns the events without pings.
 */
export function assertGrammar(all: Sse[]): Sse[] {
  for (const e of all) assert.equal(e.event, e.data.type, "the event: line names the data type");
  const events = all.filter((e) => e.event !== "ping");
  assert.equal(events[0]?.event, "message_start", "message_start comes first");
  assert.equal(events.filter((e) => e.event === "message_start").length, 1, "one message_start");
  const start = events[0]!.data.message;
  assert.equal(typeof start.usage?.input_tokens, "number", "message_start carries usage");
  assert.deepEqual(start.content, []);
  assert.equal(events[events.length - 1]?.event, "message_stop", "message_stop comes last");
  assert.equal(events.filter((e) => e.event === "message_stop").length, 1, "one message_stop");
  const deltaAt = events.findIndex((e) => e.event === "message_delta");
  assert.equal(deltaAt, events.length - 2, "message_delta right before message_stop, once");
  const md = events[deltaAt]!.data;
  assert.equal(typeof md.delta.stop_reason, "string", "message_delta has a stop_reason");
  assert.equal(typeof md.usage.output_tokens, "number", "message_delta has usage.output_tokens");

  let next = 0;
  let open: { index: number; type: string } | undefined;
  for (const e of events.slice(1, deltaAt)) {
    const d = e.data;
    switch (e.event) {
      case "content_block_start":
        assert.equal(open, undefined, `block ${d.index} starts while ${open?.index} is open`);
        assert.equal(d.index, next++, "block indexes are 0,1,2… in start order");
        open = { index: d.index, type: d.content_block.type };
        break;
      case "content_block_delta":
        assert.equal(d.index, open?.index, "a delta belongs to the open block");
        assert.ok(
          DELTA_FOR_BLOCK[open!.type]?.includes(d.delta.type),
          `${d.delta.type} in a ${open!.type} block`,
        );
        break;
      case "content_block_stop":
        assert.equal(d.index, open?.index, "content_block_stop closes the open block");
        open = undefined;
        break;
      default:
        assert.fail(`unexpected event ${e.event} between message_start and message_delta`);
    }
  }
  assert.equal(open, undefined, "every block is closed before message_delta");
  return events;
}

// deno-lint-ignore no-explicit-any
type Block = any;

/** Rebuilds the message a client would assemble from the events (independently of the SDK). */
export function assemble(events: Sse[]) {
  const message = structuredClone(events[0]!.data.message);
  const content: Block[] = [];
  const json: string[] = [];
  for (const { event, data } of events) {
    if (event === "content_block_start") {
      content[data.index] = structuredClone(data.content_block);
      json[data.index] = "";
    } else if (event === "content_block_delta") {
      const block = content[data.index];
      const d = data.delta;
      if (d.type === "text_delta") block.text += d.text;
      else if (d.type === "thinking_delta") block.thinking += d.thinking;
      else if (d.type === "signature_delta") block.signature = d.signature;
      else if (d.type === "input_json_delta") json[data.index] += d.partial_json;
    } else if (event === "content_block_stop") {
      const block = content[data.index];
      if (block.type === "tool_use") {
        block.input = json[data.index] ? JSON.parse(json[data.index]!) : {};
      }
    } else if (event === "message_delta") {
      message.stop_reason = data.delta.stop_reason;
      message.stop_sequence = data.delta.stop_sequence;
      message.usage = { ...message.usage, ...data.usage };
    }
  }
  message.content = content;
  return message;
}

/** Asserts an Anthropic error body of the given type and returns its message. */
export async function assertAnthropicError(
  res: Response,
  status: number,
  type: string,
): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, `status (body: ${text})`);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const parsed = JSON.parse(text);
  assert.equal(parsed.type, "error");
  assert.equal(parsed.error?.type, type, `error type (body: ${text})`);
  assert.equal(typeof parsed.error.message, "string");
  assert.ok(parsed.error.message.length > 0);
  return parsed.error.message;
}
