/**
 * The usage history: every finished `POST /v1/messages` is counted in memory (totals per hour
 * and target for the last week, and the latest requests themselves) and, once a database is
 * attached, written to it in batches from a timer, never on the request's path. A database that
 * cannot be used degrades to "no history" with one log line; the dashboard then reads memory.
 */
import { HOUR_MS, HourlyTotals } from "./hourly_totals.ts";
import type { Logger } from "./log.ts";
import { PendingRows } from "./pending_rows.ts";
import { isMessagesCall, type RequestEvents, type RequestRecord } from "./request_events.ts";
import type { UsageDb, UsageTotal } from "./usage_db.ts";

/** The latest requests kept in memory, for the dashboard when there is no database. */
const RECENT_ROWS = 200;
/** Hourly totals kept in memory: the dashboard's longest view is 7 days. */
const KEEP_HOURS = 8 * 24;
/** Rows waiting for a locked database; beyond this the oldest are dropped. */
const MAX_PENDING = 10_000;
const BATCH_ROWS = 500;
const PRUNE_EVERY_MS = 3_600_000;

export type HistoryState = "memory" | "opening" | "on" | "unavailable";

export type HistoryOptions = {
  log: Logger;
  retentionMs: number;
  /** A database will be attached (USAGE_DB is set): rows wait for it. */
  persist: boolean;
  flushMs?: number;
  now?: () => number;
};

const isBusy = (err: unknown) => /busy|locked/i.test(err instanceof Error ? err.message : "");

export class UsageHistory {
  /**
   * A ring: `#recent[#next]` is overwritten next once it holds RECENT_ROWS records. Only these
   * few are kept whole, and only while there is no database to read them from; everything else
   * is counted into `#hours`, so that a busy proxy does not hold thousands of records that every
   * garbage collection has to walk.
   */
  #recent: RequestRecord[] = [];
  #next = 0;
  #hours = new HourlyTotals(KEEP_HOURS);
  #pending = new PendingRows(256);
  #db: UsageDb | undefined;
  /** The database's file, for log lines. */
  #path = "";
  #state: HistoryState;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastPrune = 0;
  #busyLogged = false;
  #opts: Required<Omit<HistoryOptions, "persist">>;

  constructor(events: RequestEvents, opts: HistoryOptions) {
    this.#opts = {
      log: opts.log,
      retentionMs: opts.retentionMs,
      flushMs: opts.flushMs ?? 500,
      now: opts.now ?? Date.now,
    };
    this.#state = opts.persist ? "opening" : "memory";
    events.subscribe((e) => {
      if (e.kind === "done" && isMessagesCall(e.record)) this.#add(e.record);
    });
  }

  get state(): HistoryState {
    return this.#state;
  }

  #add(record: RequestRecord): void {
    this.#hours.add(record);
    // With the database on, it answers for the latest requests: none kept here as well.
    if (this.#state !== "on") this.#remember(record);
    if (this.#state !== "opening" && this.#state !== "on") return;
    this.#pending.push(record);
    // Over the cap (a database locked for long), the oldest tenth goes at once, so that a
    // request does not pay for moving ten thousand rows each time.
    if (this.#pending.length > MAX_PENDING) this.#pending.dropOldest(MAX_PENDING / 10);
    if (this.#db && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#opts.flushMs);
    }
  }

  #remember(record: RequestRecord): void {
    if (this.#recent.length < RECENT_ROWS) this.#recent.push(record);
    else this.#recent[this.#next] = record;
    this.#next = (this.#next + 1) % RECENT_ROWS;
  }

  /** The database is open: prune old rows and write what waited for it. */
  attach(db: UsageDb, path: string): void {
    this.#path = path;
    if (this.#state === "unavailable") {
      db.close();
      return;
    }
    this.#db = db;
    this.#state = "on";
    this.flush();
  }

  /** The database cannot be used: keep going without, say so once. */
  unavailable(path: string, err: unknown): void {
    if (this.#state === "unavailable") return;
    // The latest rows not yet written are what memory can still show.
    if (this.#state === "on") {
      this.#recent = [];
      this.#next = 0;
      const rows = this.#pending;
      for (let i = Math.max(0, rows.length - RECENT_ROWS); i < rows.length; i++) {
        this.#remember(rows.record(i));
      }
    }
    this.#state = "unavailable";
    this.#pending = new PendingRows();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#db?.close();
    } catch {
      // closing a broken database may fail too
    }
    this.#db = undefined;
    this.#opts.log.warn("usage history unavailable, continuing without it", {
      path,
      error: err instanceof Error ? err.message : String(err),
    });
  }

  /** Writes the waiting rows now. */
  flush(): void {
    const db = this.#db;
    if (!db || this.#state !== "on") return;
    const now = this.#opts.now();
    try {
      if (now - this.#lastPrune >= PRUNE_EVERY_MS) {
        db.prune(now - this.#opts.retentionMs);
        this.#lastPrune = now;
      }
      this.#writePending(db);
      this.#busyLogged = false;
    } catch (err) {
      if (isBusy(err)) {
        // Another proxy holds the file: these rows go with the next batch.
        if (!this.#busyLogged) {
          this.#busyLogged = true;
          this.#opts.log.warn("usage history busy, will retry", {
            error: err instanceof Error ? err.message : String(err),
          });
        }
        if (this.#timer === undefined) {
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.flush();
          }, this.#opts.flushMs * 4);
        }
        return;
      }
      this.unavailable(this.#path, err);
    }
  }

  /**
   * Writes the waiting rows in transactions of BATCH_ROWS. Those written leave the queue even
   * when a later transaction fails, so that a retry writes each row once.
   */
  #writePending(db: UsageDb): void {
    const rows = this.#pending;
    let written = 0;
    try {
      while (written < rows.length) {
        const end = Math.min(written + BATCH_ROWS, rows.length);
        db.insert(rows, written, end);
        written = end;
      }
    } finally {
      rows.dropOldest(written);
    }
  }

  /** Writes what is left and closes the database (shutdown). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
    try {
      this.#db?.close();
    } catch {
      // nothing more to save
    }
    this.#db = undefined;
    if (this.#state === "on") this.#state = "memory";
  }

  /** The latest `limit` requests, newest first. */
  recent(limit: number): RequestRecord[] {
    const db = this.#readable();
    if (db) {
      try {
        return db.recent(limit);
      } catch (err) {
        this.unavailable(this.#path, err);
      }
    }
    return this.#inMemory().slice(-limit).reverse();
  }

  /** Totals per bucket and target since `since`. */
  totals(since: number, bucketMs: number): UsageTotal[] {
    const db = this.#readable();
    if (db) {
      try {
        return db.totals(since, bucketMs);
      } catch (err) {
        this.unavailable(this.#path, err);
      }
    }
    return this.#memoryTotals(since, bucketMs);
  }

  /** The records in memory, oldest first. */
  #inMemory(): RequestRecord[] {
    if (this.#recent.length < RECENT_ROWS) return this.#recent;
    return [...this.#recent.slice(this.#next), ...this.#recent.slice(0, this.#next)];
  }

  /** The hourly totals in memory, summed into buckets of `bucketMs` (whole hours). */
  #memoryTotals(since: number, bucketMs: number): UsageTotal[] {
    const groups = new Map<number, Map<string, UsageTotal>>();
    const out: UsageTotal[] = [];
    for (const t of this.#hours) {
      // An hour that began before `since` is counted whole: memory keeps no finer grain.
      if (t.bucket + HOUR_MS <= since) continue;
      const bucket = Math.floor(t.bucket / bucketMs) * bucketMs;
      let group = groups.get(bucket);
      if (group === undefined) {
        group = new Map();
        groups.set(bucket, group);
      }
      let g = group.get(t.target);
      if (g === undefined) {
        g = { ...t, bucket };
        group.set(t.target, g);
        out.push(g);
        continue;
      }
      g.requests += t.requests;
      g.errors += t.errors;
      g.input += t.input;
      g.output += t.output;
      g.cached += t.cached;
    }
    return out.sort((a, b) =>
      a.bucket - b.bucket || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0)
    );
  }

  /** The database, with every waiting row written, or undefined to read from memory. */
  #readable(): UsageDb | undefined {
    if (this.#state !== "on") return undefined;
    this.flush();
    return this.#state === "on" ? this.#db : undefined;
  }
}
