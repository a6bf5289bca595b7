/** The shared deadline heap behind per-request timeouts (lib/common/deadlines.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { after, pendingDeadlines } from "../lib/common/deadlines.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("deadlines", () => {
  it("run in time order, whatever order they were set in, and never when cancelled", async () => {
    const ran: string[] = [];
    after(60, () => ran.push("c"));
    after(20, () => ran.push("a"));
    const cancelled = after(30, () => ran.push("never"));
    after(40, () => ran.push("b"));
    // An earlier deadline set after later ones re-arms the timer.
    after(5, () => ran.push("first"));
    cancelled.cancel();
    cancelled.cancel();
    await sleep(100);
    assert.deepEqual(ran, ["first", "a", "b", "c"]);
    assert.equal(pendingDeadlines(), 0);
  });

  it("does not run a deadline early", async () => {
    const start = Date.now();
    let ranAt = 0;
    after(30, () => (ranAt = Date.now()));
    await sleep(80);
    assert.ok(ranAt - start >= 29, `ran after ${ranAt - start} ms`);
  });

  it("cancelling in any order leaves the heap consistent", async () => {
    const ran: number[] = [];
    // Each deadline as set: when it was set plus its delay (a slow machine spreads the loop).
    const due: number[] = [];
    const ds = Array.from({ length: 200 }, (_, i) => {
      const delay = 10 + (i * 7919) % 50;
      due.push(Date.now() + delay);
      return after(delay, () => ran.push(i));
    });
    for (let i = 0; i < 200; i += 3) ds[i]!.cancel();
    await sleep(150);
    const expected = Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 3 !== 0);
    assert.deepEqual([...ran].sort((a, b) => a - b), expected);
    // Fired in deadline order (give or take the millisecond between Date.now() calls).
    for (let k = 1; k < ran.length; k++) {
      assert.ok(due[ran[k - 1]!]! <= due[ran[k]!]! + 1, `${ran[k - 1]} before ${ran[k]}`);
    }
    assert.equal(pendingDeadlines(), 0);
  });
});
