/**
 * The hand-checked chunk reader of the streaming hot path must accept exactly what the zod
 * schema accepts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ChatCompletionChunk, readChunk } from "../lib/upstreams/chat/schema.ts";

const agree = (value: unknown) =>
  assert.equal(
    readChunk(value) !== undefined,
    ChatCompletionChunk.safeParse(value).success,
    JSON.stringify(value),
  );

// Chunks built from the fields the reader looks at, each with valid and invalid values.
const maybe = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof(
    arb,
    fc.constant(null),
    fc.constant(undefined),
    fc.integer(),
    fc.string(),
    fc.constant([]),
    fc.constant({}),
  );
const functionCall = fc.record(
  { name: maybe(fc.string()), arguments: maybe(fc.oneof(fc.string(), fc.object())) },
  { requiredKeys: [] },
);
const toolCall = fc.record({
  index: maybe(fc.nat()),
  id: maybe(fc.string()),
  type: maybe(fc.constant("function")),
  function: maybe(functionCall),
}, { requiredKeys: [] });
const delta = fc.record({
  content: maybe(fc.string()),
  refusal: maybe(fc.string()),
  reasoning_content: maybe(fc.string()),
  reasoning: maybe(fc.string()),
  reasoning_details: maybe(fc.array(fc.object(), { maxLength: 2 })),
  tool_calls: maybe(fc.array(toolCall, { maxLength: 3 })),
  function_call: maybe(functionCall),
}, { requiredKeys: [] });
const choice = fc.record({
  index: maybe(fc.nat()),
  delta: maybe(delta),
  finish_reason: maybe(fc.string()),
}, { requiredKeys: [] });
const usage = fc.record({
  prompt_tokens: maybe(fc.nat()),
  completion_tokens: maybe(fc.nat()),
  prompt_tokens_details: maybe(fc.record({ cached_tokens: maybe(fc.nat()) }, { requiredKeys: [] })),
  prompt_cache_hit_tokens: maybe(fc.nat()),
}, { requiredKeys: [] });
const chunkArb = fc.record({
  id: fc.string(),
  choices: maybe(fc.array(choice, { maxLength: 3 })),
  usage: maybe(usage),
}, { requiredKeys: [] });

describe("readChunk", () => {
  it("agrees with the zod schema on real chunk shapes", () => {
    for (
      const value of [
        { choices: [{ index: 0, delta: { content: "hi" }, finish_reason: null }] },
        { choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } },
        {
          choices: [{
            delta: { tool_calls: [{ index: 0, id: "c", function: { name: "f", arguments: "{" } }] },
          }],
        },
        { choices: [{ delta: { tool_calls: [{ function: { arguments: { a: 1 } } }] } }] },
        { choices: [{ delta: { function_call: { name: "f", arguments: "{" } } }] },
        { choices: [{ delta: { function_call: { name: 1 } } }] },
        { choices: [{ delta: { content: 5 } }] },
        { choices: "no" },
        [],
        "data",
        null,
      ]
    ) agree(value);
  });

  it("agrees with the zod schema on generated chunks (2,000 cases)", () => {
    fc.assert(fc.property(chunkArb, (value) => agree(JSON.parse(JSON.stringify(value)))), {
      numRuns: 2_000,
      seed: Number(process.env.FC_SEED ?? 20261202),
    });
  });

  it("agrees with the zod schema on arbitrary JSON (1,000 cases)", () => {
    fc.assert(fc.property(fc.jsonValue(), agree), {
      numRuns: 1_000,
      seed: Number(process.env.FC_SEED ?? 20261126),
    });
  });
});
