/**
 * Provider health as a spec, on a test clock: the key pool's round-robin and rests, and the
 * circuit breaker's states (closed → open → half-open with exactly one trial → closed or open).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Health } from "../lib/routing/health.ts";
import { configFromEnv } from "../lib/ops/config.ts";

const BREAKER = { failuresToOpen: 2, cooldownMs: 10_000 };

describe("key pool", () => {
  it("goes round-robin and skips a resting key until its rest is over", () => {
    let now = 0;
    const h = new Health(() => now);
    const keys = ["k1", "k2", "k3"];
    const pick = () => {
      const p = h.pickKey("p", keys);
      return "key" in p ? p.key : p.reason;
    };
    assert.deepEqual([pick(), pick(), pick(), pick()], ["k1", "k2", "k3", "k1"]);
    h.restKey("p", "k2", 5_000);
    assert.deepEqual([pick(), pick(), pick()], ["k3", "k1", "k3"]);
    now = 5_000;
    assert.deepEqual([pick(), pick()], ["k1", "k2"]);
  });

  it("says when every key rests, and for how long", () => {
    const h = new Health(() => 100);
    h.restKey("p", "a", 3_000);
    h.restKey("p", "b", 1_000);
    assert.deepEqual(h.pickKey("p", ["a", "b"]), { reason: "keys resting", retryInMs: 1_000 });
    assert.deepEqual(h.pickKey("q", []), { key: undefined }, "a provider without keys");
  });
});

describe("circuit breaker", () => {
  it("opens after failures in a row, and a success in between resets the count", () => {
    const h = new Health(() => 0);
    h.failed("p", BREAKER);
    h.succeeded("p");
    h.failed("p", BREAKER);
    assert.equal(h.breakerState("p"), "closed");
    h.failed("p", BREAKER);
    assert.equal(h.breakerState("p"), "open");
    assert.deepEqual(h.admit("p"), { reason: "circuit open", retryInMs: 10_000 });
  });

  it("lets exactly one trial through when half-open; its outcome closes or reopens", () => {
    let now = 0;
    const h = new Health(() => now);
    h.failed("p", BREAKER);
    h.failed("p", BREAKER);
    now = 10_000;
    assert.equal(h.breakerState("p"), "half-open");
    assert.equal(h.admit("p"), undefined, "the trial");
    assert.equal(h.admit("p")?.reason, "circuit open", "others wait for it");
    h.failed("p", BREAKER);
    assert.equal(h.breakerState("p"), "open", "a failed trial reopens at once");
    now = 20_000;
    assert.equal(h.admit("p"), undefined);
    h.succeeded("p");
    assert.equal(h.breakerState("p"), "closed");
    assert.equal(h.admit("p"), undefined);
  });

  it("frees the trial when its request ended without a verdict (the client left)", () => {
    let now = 0;
    const h = new Health(() => now);
    h.failed("p", { failuresToOpen: 1, cooldownMs: 1 });
    now = 1;
    assert.equal(h.admit("p"), undefined);
    h.released("p");
    assert.equal(h.admit("p"), undefined, "a new trial may go");
  });

  it("learns nothing when it does not record (doctor)", () => {
    const h = new Health(() => 0, false);
    h.failed("p", { failuresToOpen: 1, cooldownMs: 1_000 });
    h.restKey("p", "a", 1_000);
    assert.equal(h.admit("p"), undefined);
    assert.deepEqual(h.pickKey("p", ["a"]), { key: "a" });
  });
});

describe("variables with a routing file", () => {
  it("OPENAI_API_KEY is not required when the providers come from CONFIG_FILE", () => {
    assert.throws(() => configFromEnv({}), /OPENAI_API_KEY: required/);
    assert.equal(configFromEnv({ CONFIG_FILE: "routing.jsonc" }).configFile, "routing.jsonc");
  });
});
