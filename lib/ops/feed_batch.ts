/**
 * What the dashboard's live feed sends at each flush, gathered between flushes. A quiet proxy
 * sends every stream as it opens and every request as it finishes. A busy one sends only the
 * latest few of each, since the page shows a couple of hundred rows and nobody reads faster,
 * plus the sums of everything finished (per hour and target) and, when something was left
 * out, the open streams as they are now: the page's totals stay exact, and the cost of a
 * watched proxy stays a few frames per flush however many requests it answers.
 */
import { recordView, totalView } from "./dashboard_state.ts";
import { HourlyTotals } from "./hourly_totals.ts";
import type { PriceTable } from "./prices.ts";
import {
  isMessagesCall,
  type OpenStream,
  type RequestEvent,
  type RequestRecord,
} from "./request_events.ts";

/** Finished requests, and opened streams, sent one by one per flush at most. */
export const FEED_ROWS = 20;
/** Open streams listed in a snapshot at most; the count says how many there are. */
export const FEED_OPEN_LIST = 100;

/** Where the streams open now are read. */
export type OpenStreams = { readonly openCount: number; readonly openStreams: OpenStream[] };

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class FeedBatch {
  /** A ring of the latest finished requests: `#rows[#next]` is the oldest once it is full. */
  #rows: RequestRecord[] = [];
  #next = 0;
  #finished = 0;
  #opened: OpenStream[] = [];
  /** Some open stream or finished request will not be sent on its own. */
  #leftOut = false;
  #totals = new HourlyTotals();
  /** The last list sent was cut at FEED_OPEN_LIST: the page's list stays partial until the next. */
  #partial = false;

  /** More finished requests or opened streams than FEED_ROWS came in: some are not sent alone. */
  get crowded(): boolean {
    return this.#leftOut;
  }

  get empty(): boolean {
    return this.#finished === 0 && this.#opened.length === 0 && !this.#leftOut;
  }

  /** Takes the event in; false when it is not one the dashboard shows. */
  add(e: RequestEvent): boolean {
    if (e.kind === "open") {
      if (this.#opened.length < FEED_ROWS) this.#opened.push(e.stream);
      else this.#leftOut = true;
      return true;
    }
    const r = e.record;
    if (!isMessagesCall(r)) return false;
    this.#finished++;
    this.#totals.add(r);
    if (this.#rows.length < FEED_ROWS) {
      this.#rows.push(r);
      return true;
    }
    this.#rows[this.#next] = r;
    this.#next = (this.#next + 1) % FEED_ROWS;
    this.#leftOut = true;
    return true;
  }

  /**
   * The frames for what was gathered (oldest first: a stream's `open` before its `request`),
   * and a fresh start. The open streams are listed whole when something was left out, while
   * there are more than FEED_OPEN_LIST, and once more after, so the page's list is whole again.
   */
  take(prices: PriceTable, events: OpenStreams): string {
    let text = "";
    for (const s of this.#opened) text += frame("open", s);
    const n = this.#rows.length;
    for (let i = 0; i < n; i++) {
      text += frame("request", recordView(this.#rows[(this.#next + i) % n]!, prices));
    }
    if (this.#finished > 0) {
      const hours = [...this.#totals].map((t) => totalView(t, prices));
      text += frame("totals", { requests: this.#finished, shown: n, hours });
    }
    const partial = events.openCount > FEED_OPEN_LIST;
    if (this.#leftOut || partial || this.#partial) {
      const open = events.openStreams.slice(0, FEED_OPEN_LIST);
      text += frame("streams", { count: events.openCount, open });
    }
    this.#partial = partial;
    this.#rows = [];
    this.#next = 0;
    this.#finished = 0;
    this.#opened = [];
    this.#leftOut = false;
    this.#totals.clear();
    return text;
  }
}
