/**
 * The usage history's tables and queries, over whichever SQLite driver the runtime has
 * (lib/runtime/sqlite.ts). One row per finished `POST /v1/messages`: counts and timings, never
 * a prompt or an answer. Times are milliseconds since the epoch; days and hours are UTC.
 */
import type { RequestRecord } from "./request_events.ts";

/** The little of a SQLite driver this needs; both `bun:sqlite` and `node:sqlite` provide it. */
export type SqlDatabase = {
  exec(sql: string): void;
  run(sql: string, params: readonly SqlValue[]): void;
  all(sql: string, params: readonly SqlValue[]): Record<string, unknown>[];
  close(): void;
};

export type SqlValue = string | number | null;

/** Rows kept other than as an array of records (lib/ops/pending_rows.ts). */
export type RecordSource = { readonly length: number; record(i: number): RequestRecord };
export type Rows = readonly RequestRecord[] | RecordSource;

/** Requests per time bucket and target, with their token sums. */
export type UsageTotal = {
  /** Start of the bucket (ms since the epoch, UTC). */
  bucket: number;
  target: string;
  requests: number;
  errors: number;
  input: number;
  output: number;
  cached: number;
};

/**
 * Keyed by time (then id, for uniqueness) in one B-tree: every query reads a time range, and a
 * row costs one tree insert instead of a table's and an index's
 * (https://www.sqlite.org/withoutrowid.html).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS requests (
  time INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  requested_model TEXT,
  target TEXT,
  stream INTEGER,
  status INTEGER NOT NULL,
  input_tokens INTEGER,
  output_tokens INTEGER,
  cached_tokens INTEGER,
  ttfb_ms INTEGER,
  ttft_ms INTEGER,
  duration_ms INTEGER NOT NULL,
  attempts TEXT,
  error_type TEXT,
  error_message TEXT,
  PRIMARY KEY (time, request_id)
) WITHOUT ROWID;
`;

const COLUMNS = `time, request_id, requested_model, target, stream, status, input_tokens,
  output_tokens, cached_tokens, ttfb_ms, ttft_ms, duration_ms, attempts, error_type, error_message`;
const COLUMN_COUNT = 15;
const ROW = `(${new Array(COLUMN_COUNT).fill("?").join(", ")})`;
/**
 * Rows per INSERT statement: one statement for many rows costs a fraction of one per row
 * (bench/ops_cost.ts), and 64 × 15 parameters stay under the 999 of older SQLite builds.
 */
const ROWS_PER_INSERT = 64;
const inserts = new Map<number, string>();

/**
 * Rows in the next statement when `left` rows remain: 64, or the largest power of two that
 * fits. A statement is prepared once per row count and kept, and preparing one of hundreds of
 * parameters takes milliseconds: with these sizes a history prepares at most seven, where one
 * per leftover count could reach 64 on a proxy whose batches vary in size.
 */
function rowsInStatement(left: number): number {
  let n = ROWS_PER_INSERT;
  while (n > left) n >>= 1;
  return n;
}

/** `INSERT OR IGNORE` for `n` rows: a row already there (same time and id) is skipped. */
function insertSql(n: number): string {
  let sql = inserts.get(n);
  if (sql === undefined) {
    sql = `INSERT OR IGNORE INTO requests (${COLUMNS}) VALUES ${new Array(n).fill(ROW).join(", ")}`;
    inserts.set(n, sql);
  }
  return sql;
}

/**
 * One parameter array per statement size, filled in place for each statement: a batch then
 * allocates nothing per row. The driver copies the values when it binds them.
 */
const paramArrays = new Map<number, SqlValue[]>();

function paramsFor(rows: number): SqlValue[] {
  let params = paramArrays.get(rows);
  if (params === undefined) {
    params = new Array<SqlValue>(rows * COLUMN_COUNT).fill(null);
    paramArrays.set(rows, params);
  }
  return params;
}

/** The row's values in COLUMNS order, written at `params[at]` onwards. */
function bindRow(params: SqlValue[], at: number, r: RequestRecord): void {
  params[at] = r.time;
  params[at + 1] = r.id;
  params[at + 2] = r.requestedModel ?? null;
  params[at + 3] = r.target ?? null;
  params[at + 4] = r.stream === undefined ? null : r.stream ? 1 : 0;
  params[at + 5] = r.status;
  params[at + 6] = opt(r.inputTokens);
  params[at + 7] = opt(r.outputTokens);
  params[at + 8] = opt(r.cachedTokens);
  params[at + 9] = opt(r.ttfbMs);
  params[at + 10] = opt(r.ttftMs);
  params[at + 11] = Math.round(r.durationMs);
  params[at + 12] = r.attempts && r.attempts.length > 0 ? JSON.stringify(r.attempts) : null;
  params[at + 13] = r.error?.type ?? null;
  params[at + 14] = r.error?.message ?? null;
}

const opt = (v: number | undefined): number | null => (v === undefined ? null : Math.round(v));
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * How long a write waits for another process's lock. The wait holds the event loop, so every
 * request in flight waits with it: kept to what another proxy's batch takes, a few ms.
 */
const BUSY_WAIT_MS = 25;

export class UsageDb {
  #db: SqlDatabase;

  /**
   * Sets the database up: WAL, so that several proxies on one machine can share the file
   * (https://www.sqlite.org/wal.html), and a short busy wait, so a write never holds the event
   * loop for long; a write that still finds the file locked is retried with the next batch.
   */
  constructor(db: SqlDatabase) {
    this.#db = db;
    db.exec(`PRAGMA busy_timeout = ${BUSY_WAIT_MS}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec(SCHEMA);
  }

  /** Writes `records[from, to)` in one transaction: all of them or none. */
  insert(records: Rows, from = 0, to = records.length): void {
    const at = "record" in records ? (i: number) => records.record(i) : (i: number) => records[i]!;
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (let start = from, n = 0; start < to; start += n) {
        n = rowsInStatement(to - start);
        const params = paramsFor(n);
        for (let i = 0, j = 0; i < n; i++, j += COLUMN_COUNT) {
          bindRow(params, j, at(start + i));
        }
        this.#db.run(insertSql(n), params);
      }
      this.#db.exec("COMMIT");
    } catch (err) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // no transaction left to roll back
      }
      throw err;
    }
  }

  /** Deletes rows older than `before`. */
  prune(before: number): void {
    this.#db.run("DELETE FROM requests WHERE time < ?", [before]);
  }

  /** Totals per `bucketMs` (a day, an hour) and target since `since`, oldest first. */
  totals(since: number, bucketMs: number): UsageTotal[] {
    const rows = this.#db.all(
      `SELECT time - time % ? AS bucket, COALESCE(target, '') AS target, COUNT(*) AS requests,
        SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
        COALESCE(SUM(input_tokens), 0) AS input, COALESCE(SUM(output_tokens), 0) AS output,
        COALESCE(SUM(cached_tokens), 0) AS cached
      FROM requests WHERE time >= ? GROUP BY bucket, target ORDER BY bucket, target`,
      // `%`, not `(time / ?) * ?`: node:sqlite binds every JS number as a REAL, and `/` then
      // does not round down, where `%` always works on integers.
      [bucketMs, since],
    );
    return rows.map((r) => ({
      bucket: num(r.bucket) ?? 0,
      target: str(r.target) ?? "",
      requests: num(r.requests) ?? 0,
      errors: num(r.errors) ?? 0,
      input: num(r.input) ?? 0,
      output: num(r.output) ?? 0,
      cached: num(r.cached) ?? 0,
    }));
  }

  /** The latest `limit` requests, newest first. */
  recent(limit: number): RequestRecord[] {
    const rows = this.#db.all("SELECT * FROM requests ORDER BY time DESC LIMIT ?", [limit]);
    return rows.map((r) => {
      const errorType = str(r.error_type);
      const attempts = str(r.attempts);
      let attemptList: string[] | undefined;
      try {
        const parsed: unknown = attempts ? JSON.parse(attempts) : undefined;
        if (Array.isArray(parsed)) attemptList = parsed.filter((a) => typeof a === "string");
      } catch {
        // a row another version wrote: shown without its attempts
      }
      return {
        id: str(r.request_id) ?? "",
        time: num(r.time) ?? 0,
        method: "POST",
        path: "/v1/messages",
        status: num(r.status) ?? 0,
        requestedModel: str(r.requested_model),
        target: str(r.target),
        attempts: attemptList,
        stream: r.stream === null || r.stream === undefined ? undefined : r.stream === 1,
        inputTokens: num(r.input_tokens),
        outputTokens: num(r.output_tokens),
        cachedTokens: num(r.cached_tokens),
        ttfbMs: num(r.ttfb_ms),
        ttftMs: num(r.ttft_ms),
        durationMs: num(r.duration_ms) ?? 0,
        error: errorType ? { type: errorType, message: str(r.error_message) ?? "" } : undefined,
      };
    });
  }

  close(): void {
    this.#db.close();
  }
}
