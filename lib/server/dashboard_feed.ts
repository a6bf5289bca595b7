/**
 * The dashboard's live feed (`GET /ui/api/events`): server-sent events of streams opening and
 * requests finishing. Events are gathered (lib/ops/feed_batch.ts) and sent every FEED_BATCH_MS
 * (FEED_BUSY_MS while busy), serialized only then, so a busy proxy pays neither a write nor a
 * serialization per request for each dashboard watching.
 */
import { FeedBatch } from "../ops/feed_batch.ts";
import type { Monitoring } from "../ops/monitoring.ts";
import type { RequestEvent } from "../ops/request_events.ts";

/** A comment line now and then, so proxies in between do not close a quiet feed. */
const FEED_HEARTBEAT_MS = 15_000;
/** How long the feed gathers events before it sends them. */
const FEED_BATCH_MS = 100;
/**
 * How long it gathers after a batch that had more requests than rows to show: a busy proxy's
 * table is replaced faster than anyone reads it, and each batch costs the same however many
 * requests it sums, so fewer batches make a watched busy proxy cheaper.
 */
const FEED_BUSY_MS = 500;
/**
 * Flushes a reader may fall behind by (ten seconds' worth); meanwhile its batch keeps
 * gathering, so the totals it gets when it reads again are still whole.
 */
const FEED_BACKLOG = 100;

const encoder = new TextEncoder();

export const FEED_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/**
 * `snapshot`: the dashboard's whole state, sent first (`event: state`) in the same turn as the
 * feed subscribes, so that no request falls between what the page loaded and what it is fed.
 */
export function dashboardFeed(req: Request, m: Monitoring, snapshot?: () => unknown): Response {
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // Taken in the same turn as the subscription below: no request falls between the two.
      // Before it, so that a snapshot that fails leaves nothing subscribed.
      const first = snapshot
        ? `event: state\ndata: ${JSON.stringify(snapshot())}\n\n`
        : ": connected\n\n";
      const batch = new FeedBatch();
      let keepAlive = false;
      let busy = false;
      let flushTimer: ReturnType<typeof setTimeout> | undefined;
      const flush = () => {
        flushTimer = undefined;
        if (batch.empty && !keepAlive) return;
        // A reader this far behind gets nothing new until it catches up.
        if ((controller.desiredSize ?? 0) <= -FEED_BACKLOG) return later();
        busy = batch.crowded;
        const text = (keepAlive ? ": keep-alive\n\n" : "") +
          batch.take(m.prices, m.events);
        keepAlive = false;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          stop();
        }
      };
      const later = () => {
        flushTimer ??= setTimeout(flush, busy ? FEED_BUSY_MS : FEED_BATCH_MS);
      };
      const unsubscribe = m.events.subscribe((e: RequestEvent) => {
        if (batch.add(e)) later();
      });
      const heartbeat = setInterval(() => {
        keepAlive = true;
        later();
      }, FEED_HEARTBEAT_MS);
      const end = () => {
        flush();
        stop();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      stop = () => {
        unsubscribe();
        clearInterval(heartbeat);
        clearTimeout(flushTimer);
        req.signal.removeEventListener("abort", end);
        m.feeds.signal.removeEventListener("abort", end);
      };
      req.signal.addEventListener("abort", end, { once: true });
      m.feeds.signal.addEventListener("abort", end, { once: true });
      if (m.feeds.signal.aborted) end();
      else controller.enqueue(encoder.encode(first));
    },
    cancel() {
      stop();
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers: FEED_HEADERS });
}
