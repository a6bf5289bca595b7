/**
 * Property: whatever a client sends — random bytes, random JSON, a valid request with random
 * parts broken — the real proxy answers with a 4xx Anthropic error (or a normal answer when
 * the mutation happens to leave the request valid), never a 5xx, and logs no internal error.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  completion,
  type FakeUpstream,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import { startProxy, type TestProxy } from "./helpers/proxy.ts";

const BYTES_RUNS = 100;
const JSON_RUNS = 100;
const TEXT_RUNS = 50;
const MUTATION_RUNS = 250;
const seed = (n: number) => Number(process.env.FC_SEED ?? n);

/** A request using most of the API: the starting point for mutations. */
const VALID = {
  model: "claude-sonnet-4-6",
  max_tokens: 1024,
  system: [{ type: "text", text: "You are terse.", cache_control: { type: "ephemeral" } }],
  messages: [
    {
      role: "user",
      content: [{ type: "text", text: "What is in the picture?" }, {
        type: "image",
        source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" },
      }],
    },
    {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "Look it up.", signature: "sig" },
        { type: "text", text: "Let me check." },
        { type: "tool_use", id: "toolu_01", name: "lookup", input: { q: "picture", n: 2 } },
      ],
    },
    {
      role: "user",
      content: [{
        type: "tool_result",
        tool_use_id: "toolu_01",
        content: [{ type: "text", text: "a cat" }],
        is_error: false,
      }],
    },
  ],
  tools: [{
    name: "lookup",
    description: "Look things up",
    input_schema: {
      type: "object",
      properties: { q: { type: "string" }, n: { type: "integer" } },
      required: ["q"],
    },
  }],
  tool_choice: { type: "auto" },
  stop_sequences: ["END"],
  temperature: 0.5,
  metadata: { user_id: "user-1" },
  thinking: { type: "enabled", budget_tokens: 2048 },
  stream: false,
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

function paths(value: Json, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  }
  return out;
}

/** Returns a copy of `root` with the value at `path` replaced (or removed when `next` is undefined). */
function setAt(root: Json, path: Path, next: Json | undefined): Json | undefined {
  if (path.length === 0) return next;
  const [head, ...rest] = path;
  if (Array.isArray(root)) {
    const copy = [...root];
    const v = setAt(copy[head as number] ?? null, rest, next);
    if (v === undefined) copy.splice(head as number, 1);
    else copy[head as number] = v;
    return copy;
  }
  if (root !== null && typeof root === "object") {
    const copy = { ...root };
    const v = setAt(copy[head as string] ?? null, rest, next);
    if (v === undefined) delete copy[head as string];
    else copy[head as string] = v;
    return copy;
  }
  return root;
}

const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(
    1e308,
    -1e308,
    -1,
    0,
    1.5,
    2 ** 53 + 1,
    "",
    " ",
    "\u0000",
    "\ud800",
    null,
    true,
    [],
    {},
    [[[[]]]],
    "x".repeat(5000),
    { type: "unknown_type" },
    { type: "text" },
    { type: "tool_use" },
    { type: "tool_result" },
    { type: "image", source: { type: "base64" } },
  ),
);

const mutation = fc.record({
  pick: fc.nat(),
  kind: fc.constantFrom("replace", "delete", "duplicate"),
  value: nasty,
});

function mutate(start: Json, steps: { pick: number; kind: string; value: Json }[]): Json {
  let doc: Json = start;
  for (const s of steps) {
    const all = paths(doc);
    const path = all[s.pick % all.length]!;
    if (s.kind === "delete" && path.length > 0) doc = setAt(doc, path, undefined) ?? null;
    else if (
      s.kind === "duplicate" && path.length > 0 && typeof path[path.length - 1] === "number"
    ) {
      const parentPath = path.slice(0, -1);
      let parent: Json = doc;
      for (const p of parentPath) parent = (parent as Record<string, Json>)[p as string] ?? null;
      if (Array.isArray(parent)) {
        doc =
          setAt(doc, parentPath, [...parent, parent[path[path.length - 1] as number] ?? null]) ??
            null;
      }
    } else doc = setAt(doc, path, s.value) ?? null;
  }
  return doc;
}

describe("property: garbage in, a 4xx out (never a 5xx) from the real proxy", () => {
  let up: FakeUpstream;
  let proxy: TestProxy;
  let sent = 0;
  before(async () => {
    up = await startFakeUpstream((req) =>
      req.body?.stream === true
        ? { sse: textStream("ok") }
        : { json: completion({ content: "ok" }) }
    );
    // INFO keeps 500 request bodies out of the log; errors are still logged.
    proxy = startProxy({ OPENAI_BASE_URL: up.url, LOG_LEVEL: "INFO", MAX_REQUEST_BYTES: "65536" });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  /** Sends a body and checks the answer's class. Returns the status. */
  async function send(
    body: string | Uint8Array,
    opts: { contentType?: string; path?: string; mayPass?: boolean } = {},
  ) {
    sent++;
    const res = await fetch(`${proxy.url}${opts.path ?? "/v1/messages"}`, {
      method: "POST",
      headers: { "content-type": opts.contentType ?? "application/json" },
      // A copy: fetch takes only ArrayBuffer-backed bytes.
      body: typeof body === "string" ? body : new Uint8Array(body),
    });
    const text = await res.text();
    assert.ok(
      res.status < 500,
      `5xx (${res.status}) for ${String(body).slice(0, 300)}: ${text.slice(0, 300)}`,
    );
    if (res.status === 200 && opts.mayPass) {
      assert.doesNotMatch(text, /internal proxy error/);
      return res.status;
    }
    assert.ok(res.status >= 400, `expected a 4xx, got ${res.status}: ${text.slice(0, 200)}`);
    const parsed = JSON.parse(text) as { type: string; error: { type: string; message: string } };
    assert.equal(parsed.type, "error");
    assert.ok(parsed.error.type.length > 0 && parsed.error.message.length > 0);
    return res.status;
  }

  it("the starting request is valid (mutations start from a 200)", async () => {
    assert.equal(await send(JSON.stringify(VALID), { mayPass: true }), 200);
    assert.equal(await send(JSON.stringify({ ...VALID, stream: true }), { mayPass: true }), 200);
  });

  it(`${BYTES_RUNS} random byte bodies`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 400 }),
        fc.constantFrom(
          "application/json",
          "text/plain",
          "application/x-www-form-urlencoded",
          "application/octet-stream",
        ),
        fc.constantFrom("/v1/messages", "/v1/messages/count_tokens"),
        async (bytes, contentType, path) => {
          await send(bytes, { contentType, path });
        },
      ),
      { numRuns: BYTES_RUNS, seed: seed(1) },
    );
  });

  it(`${JSON_RUNS} random JSON values`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue({ maxDepth: 6 }),
        fc.constantFrom("/v1/messages", "/v1/messages/count_tokens"),
        async (value, path) => {
          await send(JSON.stringify(value), { path });
        },
      ),
      { numRuns: JSON_RUNS, seed: seed(2) },
    );
  });

  it(`${TEXT_RUNS} random strings, any Unicode`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 200 }), async (text) => {
        await send(text);
      }),
      { numRuns: TEXT_RUNS, seed: seed(3) },
    );
  });

  it(`${MUTATION_RUNS} random mutations of a valid request (4xx, or 200 if still valid)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.constantFrom("/v1/messages", "/v1/messages/count_tokens"),
        async (steps, stream, path) => {
          const doc = mutate({ ...VALID, stream } as unknown as Json, steps);
          await send(JSON.stringify(doc), { mayPass: true, path });
        },
      ),
      { numRuns: MUTATION_RUNS, seed: seed(4) },
    );
  });

  it("no internal error was logged along the way", () => {
    assert.ok(sent >= BYTES_RUNS + JSON_RUNS + TEXT_RUNS + MUTATION_RUNS);
    const bad = proxy.logs.filter((l) => /unexpected error|internal proxy error/.test(l));
    assert.deepEqual(bad, []);
  });
});
