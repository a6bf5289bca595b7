/**
 * The rows waiting for the usage history's next write are kept as numbers and bytes, not as
 * records: each must still come back exactly as it went in, whatever its id or names, through
 * the queue's growth, its compaction and the oldest being dropped.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PendingRows } from "../lib/ops/pending_rows.ts";
import type { RequestRecord } from "../lib/ops/request_events.ts";

function row(i: number): RequestRecord {
  const r: RequestRecord = {
    id: i % 97 === 0
      ? `req_ünïcode_${i}`
      : i % 89 === 0
      ? `req_${"x".repeat(60)}_${i}`
      : `req_${String(i).padStart(24, "0")}`,
    time: 1_700_000_000_000 + i,
    method: "POST",
    path: "/v1/messages",
    status: i % 13 === 0 ? 529 : 200,
    // Past a thousand names, the rest are kept with their rows.
    requestedModel: i % 2 === 0 ? `model-${i}` : "claude-sonnet-4-5",
    target: i % 7 === 0 ? undefined : "main/gpt-5",
    stream: i % 3 === 0 ? undefined : i % 3 === 1,
    inputTokens: i % 4 === 0 ? undefined : i * 3,
    outputTokens: i % 6 === 0 ? 0 : i,
    cachedTokens: i % 8 === 0 ? 17.5 : undefined,
    ttfbMs: i % 2 === 0 ? i / 10 : undefined,
    ttftMs: i % 11 === 0 ? 42 : undefined,
    durationMs: i + 0.25,
  };
  if (i % 13 === 0) {
    r.attempts = [`main/gpt-5: 529 overloaded_error #${i}`];
    r.error = { type: "overloaded_error", message: `busy ${i}` };
  }
  return r;
}

/** What comes back: the record without the fields it left undefined. */
const plain = (r: RequestRecord) => JSON.parse(JSON.stringify(r));

describe("rows waiting for the history", () => {
  it("give back each record as it came, through growth, compaction and drops", () => {
    const rows = new PendingRows(4);
    const expected: RequestRecord[] = [];
    let next = 0;
    // Pushes outrun drops, then drops catch up: the queue grows, compacts and empties.
    for (let round = 0; round < 40; round++) {
      const push = round < 25 ? 150 : 20;
      for (let k = 0; k < push; k++) {
        const r = row(next++);
        rows.push(r);
        expected.push(r);
      }
      const drop = round % 4 === 3 ? expected.length : Math.floor(expected.length / 3);
      rows.dropOldest(drop);
      expected.splice(0, drop);
      assert.equal(rows.length, expected.length);
      for (let i = 0; i < expected.length; i++) {
        assert.deepEqual(plain(rows.record(i)), plain(expected[i]!), `round ${round}, row ${i}`);
      }
    }
    assert.ok(next / 2 > 1000, "enough distinct names to pass the name cap");
  });

  it("drop more than are waiting: none left, and the next row is the first", () => {
    const rows = new PendingRows(2);
    for (let i = 0; i < 5; i++) rows.push(row(i));
    rows.dropOldest(10);
    assert.equal(rows.length, 0);
    rows.push(row(13));
    assert.deepEqual(plain(rows.record(0)), plain(row(13)));
  });
});
