/**
 * The usage history: each finished request's summary (never its content) goes to SQLite
 * through the runtime's own driver, in batches; it survives a restart, several proxies can
 * share the file (WAL), old rows go after USAGE_RETENTION_DAYS, and a file that is not a
 * database costs one log line and no failed request. `usage` prints totals per day and model.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { completion, type FakeUpstream, startFakeUpstream } from "./helpers/fake_upstream.ts";
import { mainCommand } from "./helpers/proxy.ts";
import { type OpsProxy, startOpsProxy } from "./helpers/ops_proxy.ts";
import { type SqlDatabase, UsageDb } from "../lib/ops/usage_db.ts";
import { openSqlite } from "../lib/runtime/sqlite.ts";
import { RequestEvents, type RequestRecord } from "../lib/ops/request_events.ts";
import { UsageHistory } from "../lib/ops/usage_history.ts";
import { createLogger, type Logger, type LogLevel } from "../lib/ops/log.ts";
import { helpText, parseArgs } from "../lib/cli/args.ts";

const PROMPT = "a prompt that must never reach the history file";
const ANSWER = "an answer that must never reach the history file";

const ask = (proxy: OpsProxy, model = "claude-sonnet-4-5") =>
  fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, max_tokens: 32, messages: [{ role: "user", content: PROMPT }] }),
  }).then(async (r) => ({
    status: r.status,
    id: r.headers.get("request-id"),
    text: await r.text(),
  }));

async function openDb(path: string): Promise<UsageDb> {
  const sql = await openSqlite(path);
  return new UsageDb(sql!);
}

/** A logger whose lines are kept for the test to read. */
function capturedLog(level: LogLevel) {
  const lines: string[] = [];
  const log = createLogger({ level, format: "text", secrets: [], sink: (l) => lines.push(l) });
  return { log, lines };
}

/** A history whose database is to come, flushed by hand: no timer runs between a test's steps. */
function handFlushedHistory(log: Logger) {
  const events = new RequestEvents();
  const history = new UsageHistory(events, {
    log,
    retentionMs: 86_400_000,
    persist: true,
    flushMs: 3_600_000,
  });
  return { events, history };
}

const record = (time: number, id: string): RequestRecord => ({
  id,
  time,
  method: "POST",
  path: "/v1/messages",
  status: 200,
  requestedModel: "claude-haiku-4-5",
  target: "default/gpt-4o-mini",
  stream: false,
  inputTokens: 1000,
  outputTokens: 100,
  durationMs: 12,
});

describe("usage history", () => {
  let upstream: FakeUpstream;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ccp-history-"));
    upstream = await startFakeUpstream([{
      json: completion({
        content: ANSWER,
        usage: { prompt_tokens: 1200, completion_tokens: 80, cached_tokens: 200 },
      }),
    }]);
  });
  after(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (db: string, extra: Record<string, string> = {}) => ({
    OPENAI_BASE_URL: upstream.url,
    BIG_MODEL: "gpt-4o",
    SMALL_MODEL: "gpt-4o-mini",
    USAGE_DB: db,
    ...extra,
  });

  it("writes each request's counts, never its content, and survives a restart", async () => {
    const path = join(dir, "restart.db");
    const first = await startOpsProxy(env(path));
    assert.equal(first.monitoring.history.state, "on");
    const a = await ask(first);
    const b = await ask(first, "claude-haiku-4-5");
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    await first.close();

    const db = await openDb(path);
    const rows = db.recent(10);
    db.close();
    assert.deepEqual(rows.map((r) => r.id).sort(), [a.id, b.id].sort());
    const row = rows.find((r) => r.id === a.id)!;
    assert.equal(row.target, "default/gpt-4o");
    assert.equal(row.requestedModel, "claude-sonnet-4-5");
    assert.equal(row.inputTokens, 1000);
    assert.equal(row.cachedTokens, 200);
    assert.equal(row.outputTokens, 80);
    // The last connection to close folds the WAL file into the database and removes it.
    const wal = existsSync(`${path}-wal`) ? readFileSync(`${path}-wal`, "latin1") : "";
    const bytes = readFileSync(path, "latin1") + wal;
    assert.ok(!bytes.includes("never reach"), "no prompt or answer text in the file");

    // A new process reads it back: the dashboard shows the requests from before.
    const second = await startOpsProxy(env(path));
    try {
      const state = await (await fetch(`${second.url}/ui/api/state`)).json();
      assert.deepEqual(
        state.recent.map((r: { id: string }) => r.id).sort(),
        [a.id, b.id].sort(),
      );
      const today = state.days.filter((d: { target: string }) => d.target === "default/gpt-4o");
      assert.equal(today.length, 1);
      assert.equal(today[0].requests, 1);
      // gpt-4o: $2.50 / M input, $1.25 / M cached, $10 / M output.
      assert.ok(Math.abs(today[0].cost - (1000 * 2.5 + 200 * 1.25 + 80 * 10) / 1e6) < 1e-12);
    } finally {
      await second.close();
    }
  });

  it("is shared by two proxies on one file (WAL)", async () => {
    const path = join(dir, "shared.db");
    const one = await startOpsProxy(env(path));
    const two = await startOpsProxy(env(path));
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await ask(one)).status, 200);
        assert.equal((await ask(two)).status, 200);
      }
    } finally {
      await one.close();
      await two.close();
    }
    const sql = await openSqlite(path);
    const mode = sql!.all("PRAGMA journal_mode", []);
    sql!.close();
    assert.equal(mode[0]?.journal_mode, "wal");
    const db = await openDb(path);
    const totals = db.totals(0, 86_400_000);
    db.close();
    assert.equal(totals.reduce((n, t) => n + t.requests, 0), 6);
  });

  it("drops rows older than USAGE_RETENTION_DAYS when it opens", async () => {
    const path = join(dir, "retention.db");
    const now = Date.now();
    const db = await openDb(path);
    db.insert([record(now - 40 * 86_400_000, "req_old"), record(now - 10 * 86_400_000, "req_mid")]);
    db.close();
    const keep60 = await startOpsProxy(env(path, { USAGE_RETENTION_DAYS: "60" }));
    await keep60.close();
    let check = await openDb(path);
    assert.deepEqual(check.recent(10).map((r) => r.id), ["req_mid", "req_old"]);
    check.close();
    const keep30 = await startOpsProxy(env(path));
    await keep30.close();
    check = await openDb(path);
    assert.deepEqual(check.recent(10).map((r) => r.id), ["req_mid"]);
    check.close();
  });

  it("writes a batch of any size whole, a row already there once", async () => {
    const path = join(dir, "batch.db");
    const now = Date.now();
    const db = await openDb(path);
    const rows = Array.from({ length: 150 }, (_, i) => record(now - i * 1000, `req_${i}`));
    rows[7] = { ...rows[7]!, error: { type: "api_error", message: 'it\'s "quoted"' } };
    db.insert(rows);
    // Already written: skipped, not doubled, and the new one in the same batch still goes in.
    db.insert([rows[0]!, record(now + 1000, "req_new")]);
    const recent = db.recent(1000);
    assert.equal(recent.length, 151);
    assert.equal(recent[0]!.id, "req_new");
    assert.equal(recent.at(-1)!.id, "req_149");
    assert.deepEqual(recent.find((r) => r.id === "req_7")!.error, rows[7]!.error);
    assert.equal(db.totals(0, 86_400_000).reduce((n, t) => n + t.requests, 0), 151);
    db.close();
  });

  it("sums a day's and an hour's rows into one bucket each, under either driver", async () => {
    const db = await openDb(join(dir, "buckets.db"));
    const day = Date.UTC(2026, 0, 5);
    const hour = 3_600_000;
    // Times that do not divide evenly: a driver that binds the bucket size as a REAL would
    // make each row a bucket of its own.
    db.insert([
      record(day + 10 * hour + 1234, "req_a"),
      record(day + 10 * hour + 59 * 60_000 + 7, "req_b"),
      record(day + 23 * hour + 999, "req_c"),
    ]);
    const days = db.totals(day - 86_400_000, 86_400_000);
    const hours = db.totals(day, hour);
    db.close();
    assert.deepEqual(days.map((t) => [t.bucket, t.requests]), [[day, 3]]);
    assert.deepEqual(hours.map((t) => [t.bucket, t.requests]), [
      [day + 10 * hour, 2],
      [day + 23 * hour, 1],
    ]);
  });

  it("writes batches of every size with at most seven distinct statements", () => {
    // Each distinct statement is prepared once and kept by the driver: their number must not
    // grow with the many batch sizes a busy proxy produces.
    const statements = new Set<string>();
    const written: unknown[] = [];
    const fake: SqlDatabase = {
      exec: () => {},
      run(sql, params) {
        if (!sql.startsWith("INSERT")) return;
        statements.add(sql);
        assert.equal(params.length % 15, 0);
        for (let i = 1; i < params.length; i += 15) written.push(params[i]);
      },
      all: () => [],
      close: () => {},
    };
    const db = new UsageDb(fake);
    const ids: string[] = [];
    for (let size = 1; size <= 130; size++) {
      const rows = Array.from(
        { length: size },
        (_, i) => record(size * 1000 + i, `req_${size}_${i}`),
      );
      ids.push(...rows.map((r) => r.id));
      db.insert(rows);
    }
    assert.deepEqual(written, ids);
    assert.ok(statements.size <= 7, `${statements.size} distinct statements`);
    // A range of the rows: those and no others.
    written.length = 0;
    const rows = Array.from({ length: 10 }, (_, i) => record(i, `req_range_${i}`));
    db.insert(rows, 3, 8);
    assert.deepEqual(written, [
      "req_range_3",
      "req_range_4",
      "req_range_5",
      "req_range_6",
      "req_range_7",
    ]);
  });

  it("a file that is not a database: one log line, requests still answered", async () => {
    const path = join(dir, "corrupt.db");
    writeFileSync(path, "this is not a SQLite database, just some text ".repeat(200));
    const proxy = await startOpsProxy(env(path));
    try {
      assert.equal(proxy.monitoring.history.state, "unavailable");
      for (let i = 0; i < 3; i++) assert.equal((await ask(proxy)).status, 200);
      const lines = proxy.logs.filter((l) => l.includes("usage history unavailable"));
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.includes(path));
      // The dashboard still shows this process's requests, from memory.
      const state = await (await fetch(`${proxy.url}/ui/api/state`)).json();
      assert.equal(state.history, "unavailable");
      assert.equal(state.recent.length, 3);
    } finally {
      await proxy.close();
    }
  });

  it("USAGE_DB=off: nothing written, requests kept in memory for the dashboard", async () => {
    const proxy = await startOpsProxy(env("off"));
    try {
      assert.equal(proxy.monitoring.history.state, "memory");
      assert.equal((await ask(proxy)).status, 200);
      const state = await (await fetch(`${proxy.url}/ui/api/state`)).json();
      assert.equal(state.recent.length, 1);
      assert.equal(state.config.usageDb, "off");
    } finally {
      await proxy.close();
    }
  });
});

/** Runs main.ts with `args` and exactly `env`; resolves with its exit code and output. */
function runMain(args: string[], env: Record<string, string>, cwd: string) {
  const { cmd, args: base } = mainCommand();
  // Deno needs write access for SQLite's WAL files; the test runs it with -A.
  const runArgs = base[0] === "run" ? ["run", "-A", ...base.slice(base.length - 1)] : base;
  const child = spawn(cmd, [...runArgs, ...args], {
    // A directory without a .env file, so only `env` counts.
    cwd,
    env: { PATH: process.env.PATH ?? "", NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, out, err }))
  );
}

describe("usage subcommand", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "ccp-usage-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints requests, tokens and cost per day and model, without an upstream key", async () => {
    const path = join(dir, "usage.db");
    const now = Date.now();
    const db = await openDb(path);
    db.insert([
      record(now, "req_a"),
      record(now, "req_b"),
      { ...record(now - 86_400_000, "req_c"), target: "default/my-local-model" },
    ]);
    db.close();
    const run = await runMain(["usage", "--days", "3"], { USAGE_DB: path }, dir);
    assert.equal(run.code, 0, run.err);
    const lines = run.out.split("\n");
    const today = new Date(now).toISOString().slice(0, 10);
    const mini = lines.find((l) => l.startsWith(today) && l.includes("default/gpt-4o-mini"));
    assert.ok(mini, run.out);
    // 2 requests, 2000 input, 200 output: gpt-4o-mini at $0.15 / $0.60 per million.
    // $0.00042, to two significant digits as the dashboard shows it.
    assert.match(mini, /\s2\s+0\s+2,000\s+200\s+0\s+\$0\.00042$/);
    const local = lines.find((l) => l.includes("default/my-local-model"));
    assert.ok(local?.endsWith("—"), "an unknown price shows as —, never $0");
    assert.ok(lines.some((l) => l.startsWith("total")));
  });

  it("prices models with the config file's prices, and requests never sent upstream at $0", async () => {
    const path = join(dir, "priced.db");
    const now = Date.now();
    const db = await openDb(path);
    db.insert([
      { ...record(now, "req_p"), target: "pool/my-model" },
      { ...record(now, "req_q"), target: undefined, status: 400 },
    ]);
    db.close();
    const config = join(dir, "prices.jsonc");
    writeFileSync(
      config,
      `{ "providers": { "pool": { "base_url": "http://127.0.0.1:9/v1", "api_key": "\${POOL_KEY}" } },
         "prices": { "my-model": { "input": 0.5, "output": 1.5 } } }`,
    );
    // --config before the command, as before `doctor`; the key variable is set.
    const run = await runMain(
      ["--config", config, "usage"],
      { USAGE_DB: path, POOL_KEY: "sk-pool-0123456789" },
      dir,
    );
    assert.equal(run.code, 0, run.err);
    const lines = run.out.split("\n");
    // 1000 input at $0.5 and 100 output at $1.5 per million: $0.00065.
    assert.ok(lines.some((l) => /pool\/my-model .*\$0\.00065$/.test(l)), run.out);
    assert.ok(lines.some((l) => /\(not sent upstream\) .*\$0\.00$/.test(l)), run.out);
    assert.ok(lines.some((l) => /^total .*\$0\.00065$/.test(l)), run.out);
    // Prices need none of the file's variables: the same without POOL_KEY.
    const unset = await runMain(["--config", config, "usage"], { USAGE_DB: path }, dir);
    assert.equal(unset.code, 0, unset.err);
    assert.ok(unset.out.split("\n").some((l) => /pool\/my-model .*\$0\.00065$/.test(l)), unset.out);
    // A file whose prices cannot be read: said, and the built-in table used.
    const broken = join(dir, "broken.jsonc");
    writeFileSync(broken, `{ "prices": { "my-model": { "input": "cheap" } } }`);
    const bad = await runMain(["--config", broken, "usage"], { USAGE_DB: path }, dir);
    assert.equal(bad.code, 0, bad.err);
    assert.match(bad.err, /prices are not used \(invalid prices in config file .*broken\.jsonc\)/);
    assert.ok(bad.out.split("\n").some((l) => /pool\/my-model .*—$/.test(l)), bad.out);
  });

  it("takes --days (a whole number) and the usual options, and only after `usage`", () => {
    const ok = parseArgs(["usage", "--days", "3", "--usage-db", "/x.db"]);
    assert.equal(ok.kind, "usage");
    assert.equal(ok.kind === "usage" ? ok.days : 0, 3);
    assert.equal(ok.kind === "usage" ? ok.overrides.USAGE_DB : "", "/x.db");
    const plain = parseArgs(["usage"]);
    assert.equal(plain.kind === "usage" ? plain.days : 0, 7, "the last 7 days by default");
    for (const bad of [["usage", "--days", "0"], ["usage", "--days=x"], ["--days", "3"]]) {
      assert.equal(parseArgs(bad).kind, "error", bad.join(" "));
    }
    const tooMany = parseArgs(["usage", "--days", "100000"]);
    assert.equal(tooMany.kind, "error");
    assert.match(tooMany.kind === "error" ? tooMany.message : "", /1 to 36500/);
    assert.match(helpText("0"), /usage \[--days N\]/);
  });

  it("says so when there is no history yet, or when it is off", async () => {
    const missing = await runMain(["usage"], { USAGE_DB: join(dir, "nothing-here.db") }, dir);
    assert.equal(missing.code, 0);
    assert.match(missing.out, /no usage history at .*nothing-here\.db yet/);
    const off = await runMain(["usage"], { USAGE_DB: "off" }, dir);
    assert.equal(off.code, 1);
    assert.match(off.err, /usage history is off \(USAGE_DB=off\)/);
    // No USAGE_DB and no HOME: nowhere to look, and the message says that, not "off".
    const nowhere = await runMain(["usage"], {}, dir);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.err, /no data directory is known \(set USAGE_DB, or HOME\)/);
  });
});

describe("usage history under a lock", () => {
  it("keeps the rows while another process holds the file, writes them after, logs once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ccp-busy-"));
    const path = join(dir, "busy.db");
    const { log, lines } = capturedLog("info");
    const { events, history } = handFlushedHistory(log);
    history.attach(await openDb(path), path);
    const other = (await openSqlite(path))!;
    try {
      other.exec("BEGIN IMMEDIATE");
      events.finished(record(Date.now(), "req_1"));
      events.finished(record(Date.now(), "req_2"));
      history.flush();
      history.flush();
      assert.equal(history.state, "on");
      assert.equal(lines.filter((l) => l.includes("usage history busy")).length, 1);
      other.exec("ROLLBACK");
      history.flush();
      const rows = other.all("SELECT request_id FROM requests ORDER BY request_id", []);
      assert.deepEqual(rows.map((r) => r.request_id), ["req_1", "req_2"]);
    } finally {
      other.close();
      history.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("usage history batches", () => {
  it("writes every waiting row, across several transactions, each row's values in place", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ccp-batches-"));
    const path = join(dir, "batches.db");
    const silent = createLogger({ level: "error", format: "text", secrets: [], sink: () => {} });
    const { events, history } = handFlushedHistory(silent);
    const now = Date.now();
    // Before the file is open, then after: both wait as rows and are written whole.
    for (let i = 0; i < 700; i++) {
      events.finished(record(now + i, `req_${String(i).padStart(4, "0")}`));
    }
    history.attach(await openDb(path), path);
    const failed = record(now + 5000, "req_failed");
    failed.status = 429;
    failed.stream = true;
    failed.attempts = ["main/gpt-5: 429 rate_limit_error"];
    failed.error = { type: "rate_limit_error", message: 'it\'s "busy"' };
    events.finished(failed);
    for (let i = 700; i < 1234; i++) {
      events.finished(record(now + i, `req_${String(i).padStart(4, "0")}`));
    }
    history.flush();
    const other = (await openSqlite(path))!;
    try {
      const [count] = other.all(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT request_id) AS ids FROM requests",
        [],
      );
      assert.deepEqual({ ...count }, { n: 1235, ids: 1235 });
      const [row] = other.all("SELECT * FROM requests WHERE request_id = 'req_failed'", []);
      assert.deepEqual({ ...row }, {
        time: now + 5000,
        request_id: "req_failed",
        requested_model: "claude-haiku-4-5",
        target: "default/gpt-4o-mini",
        stream: 1,
        status: 429,
        input_tokens: 1000,
        output_tokens: 100,
        cached_tokens: null,
        ttfb_ms: null,
        ttft_ms: null,
        duration_ms: 12,
        attempts: '["main/gpt-5: 429 rate_limit_error"]',
        error_type: "rate_limit_error",
        error_message: 'it\'s "busy"',
      });
    } finally {
      other.close();
      history.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("usage history that fails after it opened", () => {
  it("shows the rows that were waiting, then every new one, from memory", () => {
    const { log, lines } = capturedLog("warning");
    const failing: SqlDatabase = {
      exec: (sql) => {
        if (sql.startsWith("BEGIN")) throw new Error("disk I/O error");
      },
      run: () => {},
      all: () => [],
      close: () => {},
    };
    const { events, history } = handFlushedHistory(log);
    history.attach(new UsageDb(failing), "/data/usage.db");
    assert.equal(history.state, "on");
    const now = Date.now();
    for (let i = 0; i < 250; i++) events.finished(record(now + i, `req_w${i}`));
    history.flush();
    assert.equal(history.state, "unavailable");
    assert.equal(lines.filter((l) => l.includes("usage history unavailable")).length, 1);
    events.finished(record(now + 300, "req_after"));
    const ids = history.recent(500).map((r) => r.id);
    // The latest 200 (what memory keeps), newest first.
    assert.equal(ids.length, 200);
    assert.equal(ids[0], "req_after");
    assert.equal(ids[1], "req_w249");
    assert.equal(ids[199], "req_w51");
    assert.deepEqual(history.recent(1)[0], { ...record(now + 300, "req_after") });
    history.close();
  });
});

describe("usage history in memory (USAGE_DB=off)", () => {
  const HOUR = 3_600_000;
  const DAY = 86_400_000;
  const silent = createLogger({ level: "error", format: "text", secrets: [], sink: () => {} });
  const inMemory = () => {
    const events = new RequestEvents();
    const history = new UsageHistory(events, {
      log: silent,
      retentionMs: 30 * DAY,
      persist: false,
    });
    return { events, history };
  };

  it("counts every request into its hour and day, keeps only the latest whole", () => {
    const { events, history } = inMemory();
    const day = Math.floor(Date.now() / DAY) * DAY - DAY;
    // More than any ring of records would keep: the totals must still be exact.
    for (let i = 0; i < 12_000; i++) {
      const r = record(day + Math.floor(i / 500) * HOUR + 1000, `req_${i}`);
      if (i % 3 === 0) r.target = "spare/gpt-4o";
      if (i % 10 === 0) {
        r.status = 429;
        r.error = { type: "rate_limit_error", message: "slow down" };
      }
      events.finished(r);
    }
    const days = history.totals(day, DAY);
    assert.deepEqual(days.map((t) => [t.bucket, t.target, t.requests, t.errors, t.input]), [
      [day, "default/gpt-4o-mini", 8000, 800, 8_000_000],
      [day, "spare/gpt-4o", 4000, 400, 4_000_000],
    ]);
    const hours = history.totals(day + 20 * HOUR, HOUR);
    assert.deepEqual(
      hours.map((t) => t.bucket),
      [20, 20, 21, 21, 22, 22, 23, 23].map((h) => day + h * HOUR),
    );
    assert.equal(hours.reduce((n, t) => n + t.requests, 0), 2000);
    const recent = history.recent(100);
    assert.equal(recent.length, 100);
    assert.equal(recent[0]!.id, "req_11999");
    assert.equal(recent[99]!.id, "req_11900");
    assert.equal(history.recent(1000).length, 200);
  });

  it("forgets hours older than a week, and bounds the targets a client can name", () => {
    const { events, history } = inMemory();
    const now = Math.floor(Date.now() / HOUR) * HOUR;
    events.finished(record(now - 9 * DAY, "req_old"));
    for (let i = 0; i < 600; i++) {
      const r = record(now + 1, `req_${i}`);
      r.target = `default/model-${i}`;
      events.finished(r);
    }
    assert.equal(history.totals(0, DAY).some((t) => t.bucket < now - 8 * DAY), false);
    const hour = history.totals(now, HOUR);
    assert.equal(hour.reduce((n, t) => n + t.requests, 0), 600);
    assert.equal(hour.length, 501);
    assert.equal(hour.find((t) => t.target === "(other)")?.requests, 100);
  });
});
