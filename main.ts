/**
 * Entry point: flags and config, the banner, serving, and graceful shutdown.
 * `deno run --allow-net --allow-env --allow-read main.ts`, `bun main.ts`, or the compiled binary.
 */
import process from "node:process";
import { helpText, parseArgs } from "./lib/cli/args.ts";
import { type Config, ConfigError, configFromEnv, envFileVars } from "./lib/ops/config.ts";
import { banner, bannerJson } from "./lib/cli/banner.ts";
import { runDoctor } from "./lib/cli/doctor.ts";
import { readRecordText, ReplayError, replayFiles } from "./lib/cli/replay.ts";
import { replayAgainst } from "./lib/cli/replay_against.ts";
import { createLogger, type Logger, makeRedactor } from "./lib/ops/log.ts";
import { readTextFile, serve, upstreamFetch } from "./lib/runtime/serve.ts";
import { Recorder } from "./lib/server/exchange_recorder.ts";
import { createHandler } from "./lib/server/handler.ts";
import { VERSION } from "./lib/ops/version.ts";

async function loadConfig(
  envFile: string,
  required: boolean,
  overrides: Record<string, string>,
): Promise<Config> {
  let text: string | undefined;
  try {
    text = await readTextFile(envFile);
  } catch (err) {
    throw new ConfigError(
      `cannot read env file ${envFile}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const fileVars = envFileVars(envFile, text, required);
  return configFromEnv({ ...fileVars, ...process.env, ...overrides });
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
  try {
    config = await loadConfig(cli.envFile, cli.envFileRequired, cli.overrides);
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

  if (cli.kind === "replay" && cli.against !== undefined) {
    const file = cli.files[0]!;
    try {
      const text = await readRecordText(file, readTextFile);
      return await replayAgainst(text, cli.against, config, await upstreamFetch(), stdoutLines());
    } catch (err) {
      if (!(err instanceof ReplayError)) throw err;
      process.stderr.write(`error: ${file}: ${err.message}\n`);
      return 2;
    }
  }

  const recorder = await startRecorder(config, log);
  if (recorder === "failed") return 1;
  const handler = createHandler(config, { log, fetch: await upstreamFetch(), recorder });
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
      server.shutdown(config.shutdownGraceMs)
        .then(() => recorder?.flush())
        .then(() => resolve(0), () => resolve(0));
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
  // After the signal handlers: whoever waits for this line may signal at once.
  const startLine = config.logFormat === "json"
    ? bannerJson(config, server.port, new Date())
    : banner(config, server.port);
  process.stderr.write(`${redactSecrets(startLine)}\n`);
  return await stopped;
}

// argv is [runtime, script, ...args] under Deno, Bun and a Bun-compiled binary alike.
const code = await main(process.argv.slice(2));
process.exit(code);
