/**
 * The operator's endpoints: `GET /metrics` (Prometheus), `GET /ui` (the dashboard page) and the
 * JSON and live feed the page reads. The same key rule as the API: open without
 * ANTHROPIC_API_KEY, else the key in x-api-key or a Bearer token. Only the page itself is
 * served without one, since it holds no data and is where the key is typed in.
 * The feed is read with fetch, not EventSource, so the key travels in a header and never in a
 * URL, where access logs and browser history would keep it.
 */
import { displayUrl } from "../common/secret_values.ts";
import type { Config } from "../ops/config.ts";
import { describeChain, type Router } from "../routing/router.ts";
import { ProxyError } from "../anthropic/errors.ts";
import { dashboardState } from "../ops/dashboard_state.ts";
import type { Monitoring } from "../ops/monitoring.ts";
import { VERSION } from "../ops/version.ts";
import { unauthorized } from "./auth.ts";
import type { RequestContext } from "./context.ts";
import { DASHBOARD_HTML } from "./dashboard_page.ts";
import { dashboardFeed, FEED_HEADERS } from "./dashboard_feed.ts";
import { json } from "./json_response.ts";

/** The answer for an operator path, or undefined when `path` is not one (or is switched off). */
export function opsRoute(
  req: Request,
  path: string,
  ctx: RequestContext,
  m: Monitoring,
  authorized: (req: Request) => boolean,
): Response | undefined {
  const dashboard = ctx.config.dashboard;
  const known = (path === "/metrics" && m.metrics !== undefined) ||
    (dashboard && (path === "/ui" || path === "/ui/api/state" || path === "/ui/api/events"));
  if (!known) return undefined;
  if (ctx.method !== "GET" && ctx.method !== "HEAD") {
    const message = `${ctx.method} is not allowed on ${path}; use GET`;
    throw new ProxyError(405, "invalid_request_error", message, { allow: "GET" });
  }
  if (path === "/ui") {
    return new Response(DASHBOARD_HTML, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        // Everything the page needs is inline; nothing may load from elsewhere.
        "content-security-policy":
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
          "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; " +
          "frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      },
    });
  }
  if (!authorized(req)) throw unauthorized();
  if (path === "/metrics" && m.metrics) {
    return new Response(m.metrics.render(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }
  const state = () =>
    dashboardState(m, { version: VERSION, now: Date.now(), config: configView(ctx) });
  if (path === "/ui/api/state") return json(state());
  // A HEAD must not open a feed that nobody reads.
  return ctx.method === "HEAD"
    ? new Response(null, { headers: FEED_HEADERS })
    : dashboardFeed(req, m, state);
}

/** The running configuration as the dashboard shows it: no key, only whether one is set. */
function configView(ctx: RequestContext): Record<string, unknown> {
  const c = ctx.config;
  return {
    listen: `${c.host}:${c.port}`,
    clientKey: c.anthropicApiKey ? "required (set)" : "not required",
    providers: ctx.router.providers.map((p) => ({
      name: p.name,
      api: p.api,
      baseUrl: ctx.redact(displayUrl(p.baseUrl)),
      key: p.apiKey ? "set" : "not set",
    })),
    ...routingView(ctx.router, c),
    timeouts: {
      request_s: c.requestTimeoutMs / 1000,
      firstByte_s: c.firstByteTimeoutMs / 1000,
      streamIdle_s: c.streamIdleTimeoutMs / 1000,
    },
    maxRetries: c.maxRetries,
    usageDb: c.usageDb ?? "off",
    retentionDays: c.usageRetentionMs / 86_400_000,
    metrics: c.metrics,
  };
}

/** Tiers, routes and fallback: the configuration file's when there is one, else the variables'. */
function routingView(router: Router, c: Config): Record<string, unknown> {
  const file = router.file;
  if (file === undefined) {
    return { tiers: { opus: c.bigModel, sonnet: c.middleModel, haiku: c.smallModel } };
  }
  const tiers: Record<string, string> = {};
  for (const family of ["opus", "sonnet", "haiku"] as const) {
    const chain = file.tiers[family];
    if (chain) tiers[family] = describeChain(chain);
  }
  return {
    configFile: file.source,
    tiers,
    routes: file.routes.map((r) => `${r.when} → ${describeChain(r.chain)}`),
    fallback: {
      on: [...file.fallbackOn],
      failuresToOpen: file.breaker.failuresToOpen,
      cooldown_s: file.breaker.cooldownMs / 1000,
    },
  };
}
