/**
 * The proxy in process for web search tests: like startProxy, with web_fetch's address check
 * injected (tests reach fake pages on 127.0.0.1, which the production check refuses).
 */
import { appendFileSync } from "node:fs";
import { configFromEnv } from "../../lib/ops/config.ts";
import { createLogger } from "../../lib/ops/log.ts";
import { serve } from "../../lib/runtime/serve.ts";
import { TEST_UPSTREAM_KEY, type TestProxy, testTransport as transport } from "./proxy.ts";
import { createHandler } from "../../lib/server/handler.ts";
import type { AddressGuard } from "../../lib/websearch/fetch_page.ts";

const logFile = process.env.CCP_TEST_LOG;

export function startSearchProxy(
  env: Record<string, string>,
  addressGuard: AddressGuard | undefined,
): TestProxy {
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
    secrets: [config.openaiApiKey, config.anthropicApiKey, config.search?.apiKey],
    sink: (line) => {
      logs.push(line);
      // Kept with every other test's log lines, for CI's grep for the test keys.
      if (logFile) appendFileSync(logFile, line + "\n");
    },
  });
  const server = serve(createHandler(config, { log, fetch: transport, addressGuard }), {
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: config.maxRequestBytes,
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    logs,
    close: () => server.shutdown(1_000),
    // This proxy records nothing (no RECORD_DIR).
    flushRecords: () => Promise.resolve(),
  };
}

/** Lets the tests' fake pages on 127.0.0.1 be fetched; nothing else resolves. */
export const LOOPBACK_GUARD: AddressGuard = {
  resolve: () => Promise.resolve(["127.0.0.1"]),
  allowed: (ip) => ip === "127.0.0.1",
};
