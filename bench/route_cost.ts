/**
 * CPU cost of choosing the route, in process: `router.route()` on a real Claude Code request
 * (the `cc` scenario's body, ~24 tools and a 60 KB system prompt) for the router without a
 * configuration file and for examples/config.jsonc (five routes, the token estimate included
 * when a route asks for it). Asserts nothing; for A/B comparisons.
 *
 *   bun bench/route_cost.ts [--n 200000]
 *   deno run -A bench/route_cost.ts
 */
import process from "node:process";
import { readFileSync } from "node:fs";
import { MessagesRequest } from "../lib/anthropic/schema.ts";
import { configFromEnv } from "../lib/ops/config.ts";
import { Health } from "../lib/routing/health.ts";
import { buildRouter } from "../lib/routing/load.ts";
import type { Router } from "../lib/routing/router.ts";
import { estimateInputTokens } from "../lib/tokens/count.ts";
import { buildTemplate } from "./requests.ts";
import { SCENARIOS } from "./scenarios.ts";

const i = process.argv.indexOf("--n");
const n = i >= 0 ? Number(process.argv[i + 1]) : 200_000;

const env = {
  OPENAI_API_KEY: "k",
  OR_KEY_1: "k1",
  OR_KEY_2: "k2",
  DEEPSEEK_API_KEY: "k3",
  LOG_LEVEL: "ERROR",
};
const t = buildTemplate("anthropic", SCENARIOS.cc, 60 * 1024);
const request = MessagesRequest.parse(JSON.parse(`${t.head}n0${t.tail}`));

function measure(name: string, router: Router, req: MessagesRequest): void {
  // The estimate as messages.ts passes it: computed once, only if a route asks for it.
  const once = () => {
    let estimate: number | undefined;
    return router.route(req, () => (estimate ??= estimateInputTokens(req, req.model))).chain.length;
  };
  let sink = 0;
  for (let k = 0; k < Math.min(n, 20_000); k++) sink += once();
  const cpu0 = process.cpuUsage();
  for (let k = 0; k < n; k++) sink += once();
  const cpu = process.cpuUsage(cpu0);
  const ns = (cpu.user + cpu.system) * 1000 / n;
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(7)} ns CPU per request (${sink > 0})`);
}

const noFile = buildRouter(configFromEnv(env), undefined, env, new Health()).router;
const example = readFileSync(new URL("../examples/config.jsonc", import.meta.url), "utf8");
const fileEnv = { ...env, CONFIG_FILE: "examples/config.jsonc" };
const withFile = buildRouter(configFromEnv(fileEnv), example, fileEnv, new Health()).router;

measure("no config file", noFile, request);
// The cc request has no thinking, images or web search: every route is tested, the token
// estimate included (routes[1]), before the tier matches.
measure("examples/config.jsonc, falls through to a tier", withFile, request);
measure(
  "examples/config.jsonc, first route (thinking)",
  withFile,
  { ...request, thinking: { type: "enabled", budget_tokens: 2048 } },
);
