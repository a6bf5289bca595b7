/** stringifyObject is JSON.stringify, only faster on big and repeated bodies. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { deepEqual, JsonMemo, stringifyObject } from "../lib/common/json_text.ts";

const dir = new URL("./fixtures/claude-code/", import.meta.url);
const bodies = readdirSync(dir).map((f) => JSON.parse(readFileSync(new URL(f, dir), "utf8")).body);

describe("stringifyObject", () => {
  it("equals JSON.stringify on every recorded Claude Code body, with and without a memo", () => {
    const memo = new JsonMemo();
    for (let round = 0; round < 2; round++) {
      for (const body of bodies) {
        assert.equal(stringifyObject(body), JSON.stringify(body));
        assert.equal(stringifyObject(structuredClone(body), memo), JSON.stringify(body));
      }
    }
    assert.ok(memo.hits > 0, "the second round reuses serialized tools and messages");
  });

  it("never reuses text for a changed element (1,000 cases)", () => {
    const memo = new JsonMemo();
    const big = fc.string({ minLength: 600, maxLength: 700 });
    const element = fc.oneof(
      fc.record({ role: fc.constantFrom("user", "assistant"), content: big }),
      fc.record({ role: fc.constant("tool"), content: big, tool_call_id: fc.string() }),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(
        fc.array(element, { maxLength: 6 }),
        fc.nat(),
        fc.string(),
        (messages, i, edit) => {
          const body = { model: "m", messages, tools: messages };
          assert.equal(stringifyObject(structuredClone(body), memo), JSON.stringify(body));
          // The same elements with one edited in place of the original.
          const changed: { model: string; messages: unknown[]; tools: unknown[] } = structuredClone(
            body,
          );
          if (changed.messages.length > 0) {
            const at = i % changed.messages.length;
            const item = changed.messages[at];
            changed.messages[at] = item && typeof item === "object" && !Array.isArray(item)
              ? { ...item, content: `${String((item as { content?: unknown }).content)}${edit}x` }
              : [item, edit];
          }
          assert.equal(stringifyObject(changed, memo), JSON.stringify(changed));
        },
      ),
      { numRuns: 1_000, seed: Number(process.env.FC_SEED ?? 20261126) },
    );
  });

  it("equals JSON.stringify on random objects, undefined fields included (1,000 cases)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.oneof(fc.jsonValue(), fc.constant(undefined))),
        (obj) => assert.equal(stringifyObject(obj, new JsonMemo()), JSON.stringify(obj)),
      ),
      { numRuns: 1_000, seed: Number(process.env.FC_SEED ?? 20261127) },
    );
  });
});

describe("deepEqual", () => {
  it("agrees with comparing JSON text (1,000 cases)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        assert.equal(deepEqual(a, b), JSON.stringify(a) === JSON.stringify(b));
        assert.ok(deepEqual(a, structuredClone(a)));
      }),
      { numRuns: 1_000, seed: Number(process.env.FC_SEED ?? 20261128) },
    );
  });

  it("treats key order as a difference, since it changes the serialized text", () => {
    assert.equal(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 }), false);
  });
});
