/**
 * Entry point: flags and config, the banner, serving, and graceful shutdown.
 * `deno run --allow-net --allow-env --allow-read main.ts`, `bun main.ts`, or the compiled binary.
 */
import process from "node:process";
import { helpText, parseArgs } from "./lib/cli/args.ts";
import {
  type Config,
  ConfigError,
  configFromEnv,
  envFileVars,
  usageDbPath,
} from "./lib/ops/config.ts";
import { banner, bannerJson } from "./lib/cli/banner.ts";
import { runDoctor } from "./lib/cli/doctor.ts";
import { createLogger, makeRedactor } from "./lib/ops/log.ts";
import { readTextFile, serve, upstreamFetch } from "./lib/runtime/serve.ts";
import { createHandler } from "./lib/server/handler.ts";
import { VERSION } from "./lib/ops/version.ts";
import { createMonitoring } from "./lib/ops/monitoring.ts";
import { UsageDb } from "./lib/ops/usage_db.ts";
import { attachUsageDb, openSqlite } from "./lib/runtime/sqlite.ts";
import { reportSince, usageReport } from "./lib/cli/usage_report.ts";

async function loadEnv(
  envFile: string,
  required: boolean,
  overrides: Record<string, string>,
): Promise<Record<string, string | undefined>> {
  let text: string | undefined;
  try {
    text = await readTextFile(envFile);
  } catch (err) {
    throw new ConfigError(
      `cannot read env file ${envFile}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const fileVars = envFileVars(envFile, text, required);
  return { ...fileVars, ...process.env, ...overrides };
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
  let config: Config;
  try {
    const env = await loadEnv(cli.envFile, cli.envFileRequired, cli.overrides);
    // The report needs only the history's path, not an upstream key.
    if (cli.kind === "usage") return await printUsage(usageDbPath(env), cli.days, stdoutLines());
    config = configFromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const redactSecrets = makeRedactor([config.openaiApiKey, config.anthropicApiKey], {
    exactOnly: true,
  });
  const log = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    secrets: [config.openaiApiKey, config.anthropicApiKey],
  });
  if (cli.kind === "doctor") {
    return await runDoctor(
      config,
      await upstreamFetch(),
      stdoutLines(),
    );
  }

  const monitoring = createMonitoring(config, log);
  const handler = createHandler(config, { log, fetch: await upstreamFetch(), monitoring });
  let server;
  try {
    server = serve(handler, {
      hostname: config.host,
      port: config.port,
      maxBodyBytes: config.maxRequestBytes,
    });
  } catch (err) {
    log.error("cannot listen", {
      host: config.host,
      port: config.port,
      error: err instanceof Error ? err.message : String(err),
    });
    return 1;
  }
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("shutting down: finishing in-flight requests", {
        signal,
        grace_s: config.shutdownGraceMs / 1000,
      });
      monitoring?.feeds.abort();
      server.shutdown(config.shutdownGraceMs).finally(() => {
        // After the in-flight requests: their rows are written too.
        monitoring?.history.close();
        resolve(0);
      });
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
  // After the signal handlers: whoever waits for this line may signal at once.
  const startLine = config.logFormat === "json"
    ? bannerJson(config, server.port, new Date())
    : banner(config, server.port);
  process.stderr.write(`${redactSecrets(startLine)}\n`);
  // Opened after the server listens: no request waits for the driver or the file.
  const usageDb = config.usageDb;
  if (monitoring && usageDb !== undefined) {
    // Never rejects: a file that cannot be used turns the history off with one log line.
    void attachUsageDb(monitoring.history, usageDb);
  }
  return await stopped;
}

/** `usage`: the history's totals per day and model. */
async function printUsage(
  path: string | undefined,
  days: number,
  out: (line: string) => void,
): Promise<number> {
  if (path === undefined) {
    process.stderr.write("error: the usage history is off (USAGE_DB=off); nothing to report\n");
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
    for (const line of usageReport(totals, { path, days })) out(line);
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
