/**
 * Entry point: flags and config, the banner, serving, and graceful shutdown.
 * `deno run --allow-net --allow-env --allow-read --allow-write main.ts`, `bun main.ts`, or the compiled binary.
 */
import process from "node:process";
import { flagFor, helpText, parseArgs } from "./lib/cli/args.ts";
import {
  type Config,
  ConfigError,
  configFromEnv,
  envFileVars,
  usageDbPath,
} from "./lib/ops/config.ts";
import { ignoredDotenvLines } from "./lib/ops/dotenv.ts";
import { banner, bannerJson } from "./lib/cli/banner.ts";
import { runDoctor } from "./lib/cli/doctor.ts";
import { routingLines } from "./lib/cli/routing_banner.ts";
import { readRecordText, ReplayError, replayFiles } from "./lib/cli/replay.ts";
import { replayAgainst } from "./lib/cli/replay_against.ts";
import { createLogger, type Logger, makeRedactor } from "./lib/ops/log.ts";
import { readTextFile, runtimeName, serve, upstreamFetch } from "./lib/runtime/serve.ts";
import { compileSchemas } from "./lib/common/compiled_schema.ts";
import { Recorder } from "./lib/server/exchange_recorder.ts";
import { createHandler } from "./lib/server/handler.ts";
import { resolveHost } from "./lib/runtime/resolve_host.ts";
import { isPublicAddress } from "./lib/websearch/address.ts";
import { Health } from "./lib/routing/health.ts";
import { RouterHolder } from "./lib/routing/holder.ts";
import { routerSecrets } from "./lib/routing/router.ts";
import { addHealthGauges } from "./lib/routing/health_gauges.ts";
import { buildRouter, type LoadedRouter } from "./lib/routing/load.ts";
import { watchFile } from "./lib/runtime/watch.ts";
import { VERSION } from "./lib/ops/version.ts";
import { createMonitoring } from "./lib/ops/monitoring.ts";
import { OpenStreams } from "./lib/server/open_streams.ts";
import { UsageDb } from "./lib/ops/usage_db.ts";
import { attachUsageDb, openSqlite } from "./lib/runtime/sqlite.ts";
import { reportSince, usageReport } from "./lib/cli/usage_report.ts";
import { parsePrices } from "./lib/routing/config_file.ts";
import { filePrices } from "./lib/routing/file_router.ts";
import type { PriceTable } from "./lib/ops/prices.ts";

async function loadEnv(
  envFile: string,
  required: boolean,
  overrides: Record<string, string>,
): Promise<{
  env: Record<string, string | undefined>;
  sourceOf: (name: string) => string;
  /** Lines of the file no variable was read from (not blank, not comments). */
  ignoredLines: number[];
}> {
  let text: string | undefined;
  try {
    text = await readTextFile(envFile);
  } catch (err) {
    throw new ConfigError(
      `cannot read env file ${envFile}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const fileVars = envFileVars(envFile, text, required);
  // Errors name the setting as the user wrote it: the flag, the variable, or the file's line.
  const sourceOf = (name: string): string => {
    if (name in overrides) return flagFor(name) ?? name;
    // Bun copies ./.env into the environment itself: the same value there is the file's.
    const fromFile = name in fileVars &&
      (process.env[name] === undefined || process.env[name] === fileVars[name]);
    if (fromFile) return `${name} in ${envFile}`;
    return name;
  };
  const ignoredLines = text === undefined ? [] : ignoredDotenvLines(text);
  return { env: { ...fileVars, ...process.env, ...overrides }, sourceOf, ignoredLines };
}

/** Deno's AddrInUse and Bun's EADDRINUSE. */
function addressInUse(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return err.name === "AddrInUse" || code === "EADDRINUSE" || /address.*in use/i.test(err.message);
}

/** The routing file's text; a file named but missing is an error. */
async function readConfigFile(config: Config): Promise<string | undefined> {
  if (config.configFile === undefined) return undefined;
  let text: string | undefined;
  try {
    text = await readTextFile(config.configFile);
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${config.configFile}: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  if (text === undefined) {
    throw new ConfigError(`cannot read config file ${config.configFile}: not found`);
  }
  return text;
}

/**
 * Prints lines to stdout. A reader that goes away (`doctor | head`) ends the output quietly:
 * Deno throws on the broken pipe and Bun emits an error, and neither deserves a stack trace.
 */
function stdoutLines(): (line: string) => void {
  let closed = false;
  process.stdout.on("error", () => (closed = true));
  return (line) => {
    if (closed) return;
    try {
      process.stdout.write(`${line}\n`);
    } catch {
      closed = true;
    }
  };
}

/** RECORD_DIR: the directory is made (or found) now, so that a wrong path fails at start. */
async function startRecorder(
  config: Config,
  log: Logger,
): Promise<Recorder | undefined | "failed"> {
  if (config.recordDir === undefined) return undefined;
  // node:fs is loaded only when recording is on.
  const { fileRecordStore } = await import("./lib/runtime/record_store.ts");
  const store = fileRecordStore(config.recordDir);
  try {
    await store.prepare();
  } catch (err) {
    log.error("cannot use RECORD_DIR", {
      dir: config.recordDir,
      error: err instanceof Error ? err.message : String(err),
    });
    return "failed";
  }
  log.info("recording each exchange", {
    dir: config.recordDir,
    max_file_bytes: config.recordMaxFileBytes,
    max_dir_bytes: config.recordMaxDirBytes,
  });
  return new Recorder({
    store,
    maxFileBytes: config.recordMaxFileBytes,
    maxDirBytes: config.recordMaxDirBytes,
    log,
    redact: makeRedactor([config.openaiApiKey, config.anthropicApiKey]),
  });
}

async function main(argv: string[]): Promise<number> {
  const cli = parseArgs(argv);
  if (cli.kind === "help") {
    process.stdout.write(helpText(VERSION));
    return 0;
  }
  if (cli.kind === "version") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (cli.kind === "error") {
    process.stderr.write(`error: ${cli.message}\n`);
    return 2;
  }
  // A plain replay reads no configuration: the file holds all it needs.
  if (cli.kind === "replay" && cli.against === undefined) {
    return await replayFiles(
      cli.files,
      readTextFile,
      stdoutLines(),
      (line) => process.stderr.write(`${line}\n`),
    );
  }
  let config: Config;
  let env: Record<string, string | undefined>;
  let sourceOf: (name: string) => string;
  let ignoredLines: number[];
  let loaded: LoadedRouter;
  // doctor checks each model on its own: nothing it sees may skip a later check.
  const health = new Health(Date.now, cli.kind !== "doctor");
  try {
    ({ env, sourceOf, ignoredLines } = await loadEnv(
      cli.envFile,
      cli.envFileRequired,
      cli.overrides,
    ));
    // The report needs only the history's path, not an upstream key.
    if (cli.kind === "usage") {
      return await printUsage(usageDbPath(env), cli.days, stdoutLines(), env.USAGE_DB?.trim(), {
        prices: await configPrices(env),
      });
    }
    config = configFromEnv(env, { sourceOf });
    loaded = buildRouter(config, await readConfigFile(config), env, health);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const routerKeys = routerSecrets(loaded.router);
  const redactSecrets = makeRedactor([config.openaiApiKey, config.anthropicApiKey, ...routerKeys], {
    exactOnly: true,
  });
  const log = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    secrets: [config.openaiApiKey, config.anthropicApiKey, config.search?.apiKey, ...routerKeys],
  });
  for (const warning of loaded.warnings) log.warn(`config file: ${warning}`);
  if (ignoredLines.length > 0) {
    // Line numbers only: a line may hold a key.
    log.warn("ignored lines of the env file that are not NAME=value", {
      file: cli.envFile,
      lines: ignoredLines.join(","),
    });
  }
  if (cli.kind === "doctor") {
    return await runDoctor(
      config,
      await upstreamFetch(),
      stdoutLines(),
      loaded.router,
    );
  }

  if (cli.kind === "replay" && cli.against !== undefined) {
    const file = cli.files[0]!;
    try {
      const text = await readRecordText(file, readTextFile);
      return await replayAgainst(
        text,
        cli.against,
        config,
        await upstreamFetch(),
        stdoutLines(),
        undefined,
        loaded.router,
      );
    } catch (err) {
      if (!(err instanceof ReplayError)) throw err;
      process.stderr.write(`error: ${file}: ${err.message}\n`);
      return 2;
    }
  }

  const recorder = await startRecorder(config, log);
  if (recorder === "failed") return 1;
  const monitoring = createMonitoring(config, log);
  const routers = new RouterHolder(loaded.router);
  if (monitoring?.metrics) addHealthGauges(monitoring.metrics, health, routers);
  if (monitoring) monitoring.prices = loaded.router.file?.prices ?? {};
  const openStreams = new OpenStreams();
  const handler = createHandler(config, {
    log,
    fetch: await upstreamFetch(),
    router: routers,
    addressGuard: { resolve: resolveHost, allowed: isPublicAddress },
    monitoring,
    recorder,
    openStreams,
  });
  let server;
  try {
    server = serve(handler, {
      hostname: config.host,
      port: config.port,
      maxBodyBytes: config.maxRequestBytes,
    });
  } catch (err) {
    if (addressInUse(err)) {
      const setting = sourceOf("PORT");
      const from = setting !== "PORT"
        ? setting
        : process.env.PORT !== undefined
        ? "PORT in the environment"
        : "the default";
      process.stderr.write(
        `error: port ${config.port} on ${config.host} is already in use (another proxy may be ` +
          `running there). Stop it, or choose another port with --port N or PORT=N (this one ` +
          `came from ${from}).\n`,
      );
      return 1;
    }
    log.error("cannot listen", {
      host: config.host,
      port: config.port,
      error: err instanceof Error ? err.message : String(err),
    });
    return 1;
  }
  // Compiled request schemas pay under Deno (see compiled_schema.ts): made now, not during the
  // first request.
  if (runtimeName === "deno") setTimeout(compileSchemas, 0);
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const hurry = new AbortController();
    const stop = (signal: string) => {
      if (stopping) {
        // A second Ctrl-C: the grace is over now, not after SHUTDOWN_GRACE.
        if (!hurry.signal.aborted) {
          log.warn("second signal: ending in-flight requests now", { signal });
          hurry.abort();
        }
        return;
      }
      stopping = true;
      log.info("shutting down: finishing in-flight requests", {
        signal,
        grace_s: config.shutdownGraceMs / 1000,
      });
      monitoring?.feeds.abort();
      server.shutdown(config.shutdownGraceMs, {
        hurry: hurry.signal,
        atDeadline: () => {
          const ended = openStreams.endAll();
          if (ended > 0) {
            log.warn("shutdown grace over: requests still running end with an error", {
              requests: ended,
            });
          }
        },
      })
        .then(() => recorder?.flush())
        .finally(() => {
          // After the in-flight requests: their rows are written too.
          monitoring?.history.close();
          resolve(0);
        });
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
  let stopWatching = () => {};
  if (config.configFile !== undefined) {
    const file = config.configFile;
    // An invalid edit keeps the running configuration; the error names its JSON path.
    const reload = async (why: string) => {
      try {
        const next = buildRouter(config, await readConfigFile(config), env, health);
        // The log redacts the new keys before any request can send one (and an upstream echo it).
        log.useSecrets(routerSecrets(next.router));
        for (const warning of next.warnings) log.warn(`config file: ${warning}`);
        routers.replace(next.router);
        if (monitoring) monitoring.prices = next.router.file?.prices ?? {};
        log.info("config file reloaded", { file, trigger: why });
      } catch (err) {
        log.error("config file not reloaded, the running configuration stays", {
          file,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    };
    stopWatching = watchFile(file, () => void reload("change"));
    // Windows has no SIGHUP; the file watch is enough there.
    if (process.platform !== "win32") process.on("SIGHUP", () => void reload("SIGHUP"));
  }
  // After the signal handlers: whoever waits for this line may signal at once.
  const startLine = config.logFormat === "json"
    ? bannerJson(config, server.port, new Date(), routingLines(loaded.router))
    : banner(config, server.port, routingLines(loaded.router));
  process.stderr.write(`${redactSecrets(startLine)}\n`);
  // Opened after the server listens: no request waits for the driver or the file.
  const usageDb = config.usageDb;
  if (monitoring && usageDb !== undefined) {
    // Never rejects: a file that cannot be used turns the history off with one log line.
    void attachUsageDb(monitoring.history, usageDb);
  }
  const code = await stopped;
  stopWatching();
  return code;
}

/** `usage`: the history's totals per day and model. */
/**
 * The prices a configuration file adds, for `usage`: read from the file alone, since the report
 * needs no upstream. A file that cannot be read for its prices leaves the built-in table, said.
 */
async function configPrices(env: Readonly<Record<string, string | undefined>>) {
  const path = env.CONFIG_FILE?.trim();
  if (!path) return {};
  try {
    const text = await readTextFile(path);
    if (text === undefined) throw new ConfigError(`cannot read config file ${path}: not found`);
    return filePrices({ prices: parsePrices(text, path) });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(
      `warning: the config file's prices are not used (${
        err.message.replace(/:?\n\s*/g, ": ")
      }); built-in prices only\n`,
    );
    return {};
  }
}

async function printUsage(
  path: string | undefined,
  days: number,
  out: (line: string) => void,
  setting: string | undefined,
  opts: { prices: PriceTable },
): Promise<number> {
  if (path === undefined) {
    const why = setting
      ? `the usage history is off (USAGE_DB=${setting})`
      : "no usage history: no data directory is known (set USAGE_DB, or HOME)";
    process.stderr.write(`error: ${why}; nothing to report\n`);
    return 1;
  }
  let db: UsageDb | undefined;
  try {
    const sql = await openSqlite(path, { mustExist: true });
    if (!sql) {
      out(`no usage history at ${path} yet: it is written while the proxy serves requests`);
      return 0;
    }
    db = new UsageDb(sql);
    const totals = db.totals(reportSince(Date.now(), days), 86_400_000);
    for (const line of usageReport(totals, { path, days, prices: opts.prices })) out(line);
    return 0;
  } catch (err) {
    process.stderr.write(
      `error: cannot read the usage history ${path}: ${
        err instanceof Error ? err.message : String(err)
      }\n`,
    );
    return 1;
  } finally {
    db?.close();
  }
}

// argv is [runtime, script, ...args] under Deno, Bun and a Bun-compiled binary alike.
const code = await main(process.argv.slice(2));
process.exit(code);
