/**
 * Starts the proxy for tests: in process on a random 127.0.0.1 port (fast, both runtimes), or
 * as a child process running main.ts (for flags, signals and start-up checks).
 * Every log line is kept for assertions and also appended to $CCP_TEST_LOG when set, so CI can
 * grep a whole run's logs for the test keys.
 */
import { appendFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { configFromEnv } from "../../lib/ops/config.ts";
import { createLogger, makeRedactor } from "../../lib/ops/log.ts";
import { runtimeName, serve } from "../../lib/runtime/serve.ts";
import { compileSchemas } from "../../lib/common/compiled_schema.ts";
import { socketFetch } from "../../lib/runtime/socket_transport.ts";
import type { Fetch } from "../../lib/upstreams/transport.ts";
import { createHandler } from "../../lib/server/handler.ts";
import { Recorder } from "../../lib/server/exchange_recorder.ts";
import { fileRecordStore } from "../../lib/runtime/record_store.ts";

// As main.ts does: compiled request schemas under Deno, the runtime parser elsewhere.
if (runtimeName === "deno") compileSchemas();

/** The transport main.ts picks for this runtime (lib/runtime/serve.ts upstreamFetch), chosen synchronously. */
export const testTransport: Fetch = runtimeName === "deno"
  ? socketFetch
  : (input, init) => fetch(input, init);

export const TEST_UPSTREAM_KEY = "sk-test-upstream-key-0123456789abcdef";
export const TEST_CLIENT_KEY = "test-client-key-fedcba9876543210";

export type TestProxy = {
  url: string;
  port: number;
  logs: string[];
  close: () => Promise<void>;
  /** Resolves when every finished exchange is in RECORD_DIR (when set). */
  flushRecords: () => Promise<void>;
};

const logFile = process.env.CCP_TEST_LOG;

function record(logs: string[], line: string) {
  logs.push(line);
  if (logFile) appendFileSync(logFile, line + "\n");
}

/** In-process proxy. `env` is the complete variable set (nothing is read from the real env). */
export function startProxy(env: Record<string, string>): TestProxy {
  const config = configFromEnv({
    OPENAI_API_KEY: TEST_UPSTREAM_KEY,
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "DEBUG",
    MAX_RETRIES: "0",
    ...env,
  });
  const logs: string[] = [];
  const log = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    secrets: [config.openaiApiKey, config.anthropicApiKey],
    sink: (line) => record(logs, line),
  });
  // RECORD_DIR as main.ts sets it up; the test makes the directory.
  const recorder = config.recordDir === undefined ? undefined : new Recorder({
    store: fileRecordStore(config.recordDir),
    maxFileBytes: config.recordMaxFileBytes,
    maxDirBytes: config.recordMaxDirBytes,
    log,
    redact: makeRedactor([config.openaiApiKey, config.anthropicApiKey]),
  });
  const server = serve(createHandler(config, { log, fetch: testTransport, recorder }), {
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: config.maxRequestBytes,
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    logs,
    close: () => server.shutdown(1_000),
    flushRecords: async () => {
      await recorder?.flush();
    },
  };
}

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The command that runs main.ts under the runtime running the tests. */
export function mainCommand(denoFlags: string[] = []): { cmd: string; args: string[] } {
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
  const main = join(repoRoot, "main.ts");
  // Absolute paths (and Deno's config named explicitly) so any working directory works.
  // --no-env-file: Bun's own .env loading would come before the proxy's (docs/configuration.md).
  return isBun ? { cmd: process.execPath, args: ["--no-env-file", main] } : {
    cmd: process.execPath,
    args: [
      "run",
      "--config",
      join(repoRoot, "deno.json"),
      "--allow-net",
      "--allow-env",
      "--allow-read",
      ...denoFlags,
      main,
    ],
  };
}

export type ChildProxy = {
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
  kill: (signal?: NodeJS.Signals) => void;
  /** Resolves with the port once the banner says it listens. */
  listening: Promise<number>;
};

/** Runs main.ts (or `binary`) as a child with exactly `env` (plus PATH/HOME) and `args`. */
export function startProxyProcess(
  env: Record<string, string>,
  args: string[] = [],
  opts: { binary?: string; cwd?: string; denoFlags?: string[] } = {},
): ChildProxy {
  const { cmd, args: base } = opts.binary
    ? { cmd: opts.binary, args: [] }
    : mainCommand(opts.denoFlags);
  const child = spawn(cmd, [...base, ...args], {
    cwd: opts.cwd ?? repoRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      NO_COLOR: "1",
      // Tests never write a usage history into the real home directory.
      USAGE_DB: "off",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let resolvePort: (p: number) => void;
  let rejectPort: (e: Error) => void;
  const listening = new Promise<number>((res, rej) => {
    resolvePort = res;
    rejectPort = rej;
  });
  const onData = (d: Buffer) => {
    const text = d.toString();
    out += text;
    if (logFile) appendFileSync(logFile, text);
    // The text banner's first line, or the message of the JSON one (LOG_FORMAT=json).
    const m = out.match(/listening on http:\/\/[^\s"]+:(\d+)/);
    if (m) resolvePort(Number(m[1]));
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      rejectPort(new Error(`proxy exited (${code}) before listening:\n${out}`));
      resolve(code);
    });
  });
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    // process.kill, not child.kill: Deno's child.kill reports the signal instead of the exit
    // code even when the child handled it and exited normally.
    kill: (signal = "SIGTERM") => {
      try {
        process.kill(child.pid!, signal);
      } catch {
        // already gone
      }
    },
    listening,
  };
}
