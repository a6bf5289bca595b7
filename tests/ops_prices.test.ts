/**
 * Cost: per-model prices from the built-in table or overrides, found through router prefixes
 * and date suffixes; an unknown model has no cost (undefined, shown as "—"), never 0.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { costOf, modelOfTarget, priceFor, providerOfTarget } from "../lib/ops/prices.ts";

describe("priceFor", () => {
  const table: { name: string; model: string; input: number | undefined }[] = [
    { name: "a listed model", model: "gpt-4o", input: 2.5 },
    { name: "a longer name is not its prefix's", model: "gpt-4o-mini", input: 0.15 },
    { name: "any case", model: "GPT-4.1", input: 2 },
    { name: "a router's vendor prefix", model: "openai/gpt-5-mini", input: 0.25 },
    { name: "a dated snapshot", model: "gpt-4o-2024-08-06", input: 2.5 },
    { name: "a compact date", model: "o3-mini-20250131", input: 1.1 },
    { name: "DeepSeek", model: "deepseek-chat", input: 0.28 },
    { name: "an unknown model", model: "qwen3-coder:30b", input: undefined },
    { name: "a name that only starts like a known one", model: "gpt-4o-turbo-x", input: undefined },
  ];
  for (const t of table) {
    it(t.name, () => assert.equal(priceFor(t.model)?.input, t.input));
  }

  it("takes overrides before the built-in table, and adds models to it", () => {
    const overrides = { "gpt-4o": { input: 1, output: 2 }, "my-model": { input: 3, output: 4 } };
    assert.equal(priceFor("gpt-4o", overrides)?.input, 1);
    assert.equal(priceFor("my-model", overrides)?.output, 4);
    assert.equal(priceFor("my-model"), undefined);
  });
});

describe("costOf", () => {
  it("prices input, output and cached input per million tokens", () => {
    const price = { input: 2.5, output: 10, cachedInput: 1.25 };
    assert.equal(costOf(price, { input: 1_000_000, output: 1_000_000, cached: 1_000_000 }), 13.75);
  });

  it("cached input costs the input price where none is listed", () => {
    assert.equal(costOf({ input: 2, output: 8 }, { cached: 500_000 }), 1);
  });

  it("is undefined, not 0, without a price", () => {
    assert.equal(costOf(undefined, { input: 10 }), undefined);
  });
});

describe("targets", () => {
  it("split into provider and model, the model keeping its own slashes", () => {
    assert.equal(providerOfTarget("main/openai/gpt-4o"), "main");
    assert.equal(modelOfTarget("main/openai/gpt-4o"), "openai/gpt-4o");
    assert.equal(priceFor(modelOfTarget("main/openai/gpt-4o"))?.input, 2.5);
  });
});
