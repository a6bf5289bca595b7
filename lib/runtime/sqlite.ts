/**
 * Opens a SQLite file with the runtime's own driver: `bun:sqlite` under Bun (compiled binary
 * included), `node:sqlite` under Deno. Imported on demand, so a proxy without history never
 * loads a driver, and a request never waits for one.
 */
import { type SqlDatabase, type SqlValue, UsageDb } from "../ops/usage_db.ts";
import type { UsageHistory } from "../ops/usage_history.ts";
import { runtimeName } from "./serve.ts";

/** bun:sqlite also takes the positional values as one array; node:sqlite takes them spread. */
type Statement = {
  run(...params: (SqlValue | readonly SqlValue[])[]): unknown;
  all(...params: SqlValue[]): unknown[];
};
type Driver = {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
};

/**
 * The specifiers are in variables so that neither bundler resolves the other runtime's module
 * (Bun has no node:sqlite to bundle, Deno no bun:sqlite); each is a built-in where it is used.
 */
async function load(): Promise<new (path: string) => Driver> {
  if (runtimeName === "bun") {
    const bun = "bun:sqlite";
    const mod: { Database: new (path: string) => Driver } = await import(bun);
    return mod.Database;
  }
  const node = "node:sqlite";
  const mod: { DatabaseSync: new (path: string) => Driver } = await import(node);
  return mod.DatabaseSync;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object";
}

/**
 * Opens the database at `path`, creating it and its directory unless `mustExist` (then a
 * missing file gives undefined).
 */
export async function openSqlite(
  path: string,
  opts: { mustExist?: boolean } = {},
): Promise<SqlDatabase | undefined> {
  const fs = await import("node:fs");
  const { dirname } = await import("node:path");
  if (!fs.existsSync(path)) {
    if (opts.mustExist) return undefined;
    fs.mkdirSync(dirname(path), { recursive: true });
  }
  const Database = await load();
  const db = new Database(path);
  // Prepared once per distinct statement: the history runs a handful of them.
  const statements = new Map<string, Statement>();
  const prepared = (sql: string) => {
    let st = statements.get(sql);
    if (!st) {
      st = db.prepare(sql);
      statements.set(sql, st);
    }
    return st;
  };
  // A batch is 960 values: passed as the array where the driver allows, not spread.
  const run = runtimeName === "bun"
    ? (sql: string, params: readonly SqlValue[]) => {
      prepared(sql).run(params);
    }
    : (sql: string, params: readonly SqlValue[]) => {
      prepared(sql).run(...params);
    };
  return {
    exec: (sql) => db.exec(sql),
    run,
    all: (sql, params) => prepared(sql).all(...params).filter(isRecord),
    close: () => db.close(),
  };
}

/**
 * Opens the usage history's file and hands it to `history`; a file that cannot be opened or
 * is not a database leaves the history without one (one log line), never an exception.
 */
export async function attachUsageDb(history: UsageHistory, path: string): Promise<void> {
  let sql: SqlDatabase | undefined;
  try {
    sql = await openSqlite(path);
    if (!sql) throw new Error("the database was not created");
    history.attach(new UsageDb(sql), path);
  } catch (err) {
    try {
      sql?.close();
    } catch {
      // a file that failed to open may fail to close too
    }
    history.unavailable(path, err);
  }
}
