/** stringifyObject is JSON.stringify, only faster on big bodies. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { stringifyObject } from "../lib/json_text.ts";

describe("stringifyObject", () => {
  it("equals JSON.stringify on every recorded Claude Code body", () => {
    const dir = new URL("./fixtures/claude-code/", import.meta.url);
    for (const f of readdirSync(dir)) {
      const body = JSON.parse(readFileSync(new URL(f, dir), "utf8")).body;
      assert.equal(stringifyObject(body), JSON.stringify(body));
    }
  });

  it("equals JSON.stringify on random objects, undefined fields included (1,000 cases)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.oneof(fc.jsonValue(), fc.constant(undefined))),
        (obj) => assert.equal(stringifyObject(obj), JSON.stringify(obj)),
      ),
      { numRuns: 1_000 },
    );
  });
});
