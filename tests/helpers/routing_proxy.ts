/**
 * An in-process proxy on a routing configuration file's text (as `--config` loads it), on a
 * random 127.0.0.1 port, with every log line kept. The router can be replaced while it runs
 * (as a reload does), and the provider health can be driven by a test clock.
 */
import { appendFileSync } from "node:fs";
import { configFromEnv } from "../../lib/ops/config.ts";
import { createLogger } from "../../lib/ops/log.ts";
import { Health } from "../../lib/routing/health.ts";
import { RouterHolder } from "../../lib/routing/holder.ts";
import { buildRouter } from "../../lib/routing/load.ts";
import { serve } from "../../lib/runtime/serve.ts";
import { TEST_UPSTREAM_KEY, testTransport as transport } from "./proxy.ts";
import { createHandler } from "../../lib/server/handler.ts";

export type RoutingProxy = {
  url: string;
  logs: string[];
  /** Loads new file text, as a reload does (throws a ConfigError for an invalid one). */
  reload: (text: string) => void;
  health: Health;
  close: () => Promise<void>;
};

export function startRoutingProxy(
  fileText: string,
  env: Record<string, string> = {},
  now?: () => number,
): RoutingProxy {
  const vars: Record<string, string> = {
    HOST: "127.0.0.1",
    PORT: "0",
    LOG_LEVEL: "INFO",
    MAX_RETRIES: "0",
    CONFIG_FILE: "test-config.jsonc",
    KEY_A: TEST_UPSTREAM_KEY,
    ...env,
  };
  const config = configFromEnv(vars);
  const health = new Health(now);
  const holder = new RouterHolder(buildRouter(config, fileText, vars, health).router);
  const logs: string[] = [];
  const log = createLogger({
    level: config.logLevel,
    format: "json",
    secrets: [TEST_UPSTREAM_KEY],
    sink: (line) => {
      logs.push(line);
      if (process.env.CCP_TEST_LOG) appendFileSync(process.env.CCP_TEST_LOG, line + "\n");
    },
  });
  const server = serve(createHandler(config, { log, fetch: transport, router: holder }), {
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: config.maxRequestBytes,
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    logs,
    reload: (text) => holder.replace(buildRouter(config, text, vars, health).router),
    health,
    close: () => server.shutdown(1_000),
  };
}

/** The request-log lines (JSON), parsed. */
export function requestLines(logs: readonly string[]): Record<string, unknown>[] {
  return logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) =>
    l.msg === "request"
  );
}

/** An address where nothing listens: a server is started and closed to free its port. */
export async function closedPortUrl(): Promise<string> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 1;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

/** Anthropic-shaped answers for a fake Anthropic-speaking upstream. */
export function anthropicMessage(text: string, model = "upstream-model") {
  return {
    id: "msg_upstream",
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 3 },
  };
}

export function anthropicSse(text: string, model = "upstream-model"): { raw: string }[] {
  const ev = (event: string, data: unknown) => ({
    raw: `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
  });
  return [
    ev("message_start", {
      type: "message_start",
      message: { ...anthropicMessage("", model), content: [], stop_reason: null },
    }),
    ev("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    }),
    ev("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text },
    }),
    ev("content_block_stop", { type: "content_block_stop", index: 0 }),
    ev("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: 5 },
    }),
    ev("message_stop", { type: "message_stop" }),
  ];
}
