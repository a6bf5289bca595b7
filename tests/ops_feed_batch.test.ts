/**
 * What the dashboard's feed sends per flush: every stream and request while there are few; past
 * FEED_ROWS the latest rows only, with exact sums of all of them and the open streams as they
 * are, so the page's totals and open list stay right however busy the proxy is.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FEED_OPEN_LIST, FEED_ROWS, FeedBatch } from "../lib/ops/feed_batch.ts";
import type { OpenStream, RequestRecord } from "../lib/ops/request_events.ts";

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 7, 10, 59, 59, 900);

const record = (i: number, extra: Partial<RequestRecord> = {}): RequestRecord => ({
  id: `req_${i}`,
  time: T0,
  method: "POST",
  path: "/v1/messages",
  status: 200,
  target: "default/gpt-4o",
  inputTokens: 100,
  outputTokens: 10,
  cachedTokens: 1,
  durationMs: 5,
  ...extra,
});

const stream = (i: number): OpenStream => ({ id: `req_${i}`, time: T0, target: "default/gpt-4o" });

type Frame = { event: string; data: Record<string, unknown> };

function frames(text: string): Frame[] {
  return text.split("\n\n").filter(Boolean).map((block) => {
    const [event, data] = block.split("\n");
    return {
      event: event!.slice("event: ".length),
      data: JSON.parse(data!.slice("data: ".length)),
    };
  });
}

const noneOpen = { openCount: 0, openStreams: [] };

describe("dashboard feed batch", () => {
  it("sends each stream and request while few, oldest first, with their sums", () => {
    const batch = new FeedBatch();
    assert.ok(batch.empty);
    batch.add({ kind: "open", stream: stream(1) });
    batch.add({ kind: "done", record: record(1) });
    batch.add({ kind: "done", record: record(2, { status: 429, target: "spare/gpt-4o-mini" }) });
    const out = frames(batch.take({}, noneOpen));
    assert.deepEqual(out.map((f) => f.event), ["open", "request", "request", "totals"]);
    assert.equal(out[1]!.data.id, "req_1");
    assert.equal(out[2]!.data.id, "req_2");
    assert.ok((out[1]!.data.cost as number) > 0);
    const totals = out[3]!.data as { requests: number; shown: number; hours: unknown[] };
    assert.equal(totals.requests, 2);
    assert.equal(totals.shown, 2);
    assert.deepEqual(totals.hours, [
      {
        bucket: T0 - T0 % HOUR,
        target: "default/gpt-4o",
        requests: 1,
        errors: 0,
        input: 100,
        output: 10,
        cached: 1,
        cost: (100 * 2.5 + 10 * 10 + 1 * 1.25) / 1e6,
      },
      {
        bucket: T0 - T0 % HOUR,
        target: "spare/gpt-4o-mini",
        requests: 1,
        errors: 1,
        input: 100,
        output: 10,
        cached: 1,
        cost: (100 * 0.15 + 10 * 0.6 + 1 * 0.075) / 1e6,
      },
    ]);
    assert.ok(batch.empty, "taking starts afresh");
    assert.equal(batch.take({}, noneOpen), "");
  });

  it("ignores finished requests that are not Messages calls", () => {
    const batch = new FeedBatch();
    assert.equal(
      batch.add({ kind: "done", record: record(1, { method: "GET", path: "/v1/models" }) }),
      false,
    );
    assert.ok(batch.empty);
  });

  it("past FEED_ROWS sends the latest rows, exact sums across hours, and the open streams", () => {
    const batch = new FeedBatch();
    const n = FEED_ROWS * 3 + 7;
    for (let i = 0; i < n; i++) {
      batch.add({ kind: "open", stream: stream(i) });
      // The burst crosses an hour: its sums come per hour.
      batch.add({ kind: "done", record: record(i, { time: T0 + i * 10 }) });
    }
    const stillOpen = [stream(1000), stream(1001)];
    const out = frames(batch.take({}, { openCount: 2, openStreams: stillOpen }));
    const rows = out.filter((f) => f.event === "request");
    assert.equal(rows.length, FEED_ROWS);
    assert.deepEqual(
      rows.map((f) => f.data.id),
      Array.from({ length: FEED_ROWS }, (_, k) => `req_${n - FEED_ROWS + k}`),
    );
    assert.equal(out.filter((f) => f.event === "open").length, FEED_ROWS);
    const totals = out.find((f) => f.event === "totals")!.data as {
      requests: number;
      shown: number;
      hours: { bucket: number; requests: number; input: number }[];
    };
    assert.equal(totals.requests, n);
    assert.equal(totals.shown, FEED_ROWS);
    assert.equal(totals.hours.length, 2);
    assert.equal(totals.hours[0]!.requests + totals.hours[1]!.requests, n);
    assert.equal(totals.hours[0]!.requests, 10, "the first 100 ms are in the earlier hour");
    assert.equal(totals.hours[1]!.input, (n - 10) * 100);
    const streams = out.at(-1)!;
    assert.equal(streams.event, "streams");
    assert.deepEqual(streams.data, { count: 2, open: stillOpen });
  });

  it("lists the open streams whole past FEED_OPEN_LIST, capped, with their count", () => {
    const batch = new FeedBatch();
    batch.add({ kind: "done", record: record(1) });
    const many = Array.from({ length: FEED_OPEN_LIST + 50 }, (_, i) => stream(i));
    const out = frames(batch.take({}, { openCount: many.length, openStreams: many }));
    const streams = out.find((f) => f.event === "streams")!.data as {
      count: number;
      open: unknown[];
    };
    assert.equal(streams.count, FEED_OPEN_LIST + 50);
    assert.equal(streams.open.length, FEED_OPEN_LIST);
    // Back under the limit: the next flush lists them all once more, then only what changes.
    const fewer = many.slice(0, 60);
    batch.add({ kind: "open", stream: stream(9999) });
    const again = frames(batch.take({}, { openCount: 60, openStreams: fewer }));
    assert.deepEqual(again.map((f) => f.event), ["open", "streams"]);
    assert.equal((again[1]!.data.open as unknown[]).length, 60);
    batch.add({ kind: "open", stream: stream(10000) });
    const calm = frames(batch.take({}, { openCount: 61, openStreams: fewer }));
    assert.deepEqual(calm.map((f) => f.event), ["open"]);
  });
});
