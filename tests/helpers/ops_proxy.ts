/**
 * An in-process proxy with its monitoring in reach (metrics, events, history), and with the
 * usage history opened as main.ts opens it: after the server listens, through the runtime's
 * own SQLite driver.
 */
import { appendFileSync } from "node:fs";
import { configFromEnv } from "../../lib/ops/config.ts";
import { createLogger } from "../../lib/ops/log.ts";
import { createMonitoring, type Monitoring } from "../../lib/ops/monitoring.ts";
import { serve } from "../../lib/runtime/serve.ts";
import { TEST_UPSTREAM_KEY, testTransport as transport } from "./proxy.ts";
import { attachUsageDb } from "../../lib/runtime/sqlite.ts";
import { createHandler } from "../../lib/server/handler.ts";

export type OpsProxy = {
  url: string;
  logs: string[];
  monitoring: Monitoring;
  /** Resolves once the history database is attached (or found unusable). */
  historyReady: Promise<void>;
  /** Stops serving, ends the live feeds and writes what the history still holds. */
  close: () => Promise<void>;
};

export async function startOpsProxy(env: Record<string, string>): Promise<OpsProxy> {
  const config = configFromEnv({
    OPENAI_API_KEY: TEST_UPSTREAM_KEY,
    HOST: "127.0.0.1",
    PORT: "0",
    MAX_RETRIES: "0",
    LOG_FORMAT: "json",
    ...env,
  });
  const logs: string[] = [];
  const log = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    secrets: [config.openaiApiKey, config.anthropicApiKey],
    sink: (line) => {
      logs.push(line);
      if (process.env.CCP_TEST_LOG) appendFileSync(process.env.CCP_TEST_LOG, line + "\n");
    },
  });
  const monitoring = createMonitoring(config, log);
  if (!monitoring) throw new Error("monitoring is off in this configuration");
  const server = serve(createHandler(config, { log, fetch: transport, monitoring }), {
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: config.maxRequestBytes,
  });
  const path = config.usageDb;
  const historyReady = path === undefined
    ? Promise.resolve()
    : attachUsageDb(monitoring.history, path);
  await historyReady;
  return {
    url: `http://127.0.0.1:${server.port}`,
    logs,
    monitoring,
    historyReady,
    close: async () => {
      monitoring.feeds.abort();
      await server.shutdown(1_000);
      monitoring.history.close();
    },
  };
}
