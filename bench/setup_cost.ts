/**
 * What a request costs before it goes upstream, in process: the time from the handler being
 * called to the upstream `fetch` being called (reading and validating the body, routing,
 * converting, serializing, the upstream call's own set-up), one request at a time, against an
 * upstream that answers at once. Under a burst of concurrent requests this is what each one waits
 * for behind the others before its upstream call starts, so it is the part of the time to first
 * byte the proxy controls. It asserts nothing.
 *
 *   deno run -A bench/setup_cost.ts [--n 5000] [--scenarios s50,cc]     or      bun bench/setup_cost.ts
 */
import process from "node:process";
import { configFromEnv } from "../lib/ops/config.ts";
import { silentLogger } from "../lib/ops/log.ts";
import { createHandler } from "../lib/server/handler.ts";
import type { Fetch } from "../lib/upstreams/transport.ts";
import { buildTemplate } from "./requests.ts";
import { isScenarioName, SCENARIOS } from "./scenarios.ts";
import { median } from "./stats.ts";

const enc = new TextEncoder();
const DONE = enc.encode(
  'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n',
);

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? fallback : fallback;
}

const n = Number(arg("n", "5000"));
const names = arg("scenarios", "s50,cc").split(",").filter(isScenarioName);

for (const name of names) {
  let called = 0;
  const fetch: Fetch = () => {
    called = performance.now();
    return Promise.resolve(
      new Response(DONE, { headers: { "content-type": "text/event-stream" } }),
    );
  };
  const config = configFromEnv({
    OPENAI_API_KEY: "k",
    OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
    LOG_LEVEL: "ERROR",
    USAGE_DB: "off",
  });
  const handler = createHandler(config, { log: silentLogger, fetch });
  const t = buildTemplate("anthropic", SCENARIOS[name], 60 * 1024);
  const body = enc.encode(`${t.head}n0${t.tail}`);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const req = new Request("http://127.0.0.1:8082/v1/messages", {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "content-length": String(body.length) },
    });
    const t0 = performance.now();
    const res = await handler(req);
    times.push(called - t0);
    await res.arrayBuffer();
  }
  const warm = times.slice(Math.floor(n / 2));
  console.log(
    `${name.padEnd(6)} ${String(body.length).padStart(7)} B  before the upstream call: ` +
      `median ${(median(warm) * 1000).toFixed(1)} µs (second half of ${n} requests)`,
  );
}
