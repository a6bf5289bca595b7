/**
 * The HTTP handler: routes, auth, and the one place where failures become error responses.
 * A plain `(Request) => Response` function with no runtime-specific code and no per-process
 * state that matters for correctness, so any number of instances can serve behind a load
 * balancer. Each route lives in its own module.
 */
import type { OpenStreams } from "./open_streams.ts";
import { refuseNonLocal } from "./local_guard.ts";
import {
  errorResponse,
  invalidRequest,
  notFound,
  ProxyError,
  redactError,
  toProxyError,
} from "../anthropic/errors.ts";
import { JsonMemo } from "../common/json_text.ts";
import type { Config } from "../ops/config.ts";
import { type Logger, makeRedactor } from "../ops/log.ts";
import { logRequest } from "../ops/request_log.ts";
import { VERSION } from "../ops/version.ts";
import type { RouterSource } from "../routing/holder.ts";
import { envRouter, type Router, routerSecrets } from "../routing/router.ts";
import { ResponsesModels } from "../upstreams/api_choice.ts";
import { ClientGone, type Fetch } from "../upstreams/transport.ts";
import type { AddressGuard } from "../websearch/fetch_page.ts";
import { keyCheck, unauthorized } from "./auth.ts";
import type { Recorder } from "./exchange_recorder.ts";
import type { RequestContext } from "./context.ts";
import { handleCountTokens } from "./count_tokens.ts";
import { json } from "./json_response.ts";
import { handleMessages } from "./messages.ts";
import { listModels, retrieveModel } from "./models_endpoint.ts";
import { sideCallResponse } from "./side_calls.ts";
import { createMonitoring, type Monitoring } from "../ops/monitoring.ts";
import { opsRoute } from "./ops_routes.ts";

export type HandlerDeps = {
  fetch?: Fetch;
  log: Logger;
  /** Fresh ids; injectable for deterministic tests. */
  newId?: () => string;
  /** The host check of web_fetch (DNS + public addresses only); without it, no web_fetch. */
  addressGuard?: AddressGuard;
  /** Where each request gets its router (a configuration file, reloadable); default: the variables'. */
  router?: RouterSource;
  /** Metrics, usage history and the dashboard's feed; made from the config when not given. */
  monitoring?: Monitoring;
  /** Writes each exchange to RECORD_DIR (see exchange_recorder.ts). */
  recorder?: Recorder;
  /** Where client streams are listed while they run (main.ts ends them at shutdown). */
  openStreams?: OpenStreams;
};

export type Handler = (req: Request) => Promise<Response>;

function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 24);
}

/**
 * Clients configured with `ANTHROPIC_BASE_URL=http://host:8082/v1` call `/v1/v1/messages`;
 * a trailing slash gives `//v1/messages`. Both are answered as what they meant.
 */
export function normalizePath(pathname: string): string {
  let p = pathname.replace(/\/{2,}/g, "/");
  while (p.startsWith("/v1/v1/")) p = p.slice(3);
  if (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  return p;
}

export function createHandler(config: Config, deps: HandlerDeps): Handler {
  const log = deps.log;
  const upstreamFetch: Fetch = deps.fetch ?? ((input, init) => fetch(input, init));
  const newId = deps.newId ?? randomId;
  const routers: RouterSource = deps.router ?? { current: fixed(envRouter(config)) };
  const warnedDropped = new Set<string>();
  // Serialized tools and history reused across turns; verified equal on every use.
  const jsonMemo = new JsonMemo();
  const responsesModels = new ResponsesModels();
  // Upstreams echo keys in error bodies; no client may read one back.
  // Each router's secrets (a reload may bring new keys), made into a redactor once per router.
  const redactors = new WeakMap<Router, (text: string) => string>();
  const redactFor = (router: Router): (text: string) => string => {
    let r = redactors.get(router);
    if (r === undefined) {
      r = makeRedactor([
        config.openaiApiKey,
        config.anthropicApiKey,
        config.search?.apiKey,
        ...routerSecrets(router),
      ]);
      redactors.set(router, r);
    }
    return r;
  };

  const authorized = keyCheck(config.anthropicApiKey);
  // Open without a key: only to local clients, not to web pages that reach loopback.
  const localOnly = !config.anthropicApiKey && !config.allowRemoteWithoutKey;
  const monitoring = deps.monitoring ?? createMonitoring(config, log);

  return async function handle(req: Request): Promise<Response> {
    const requestId = `req_${newId()}`;
    const started = Date.now();
    const url = new URL(req.url);
    const path = normalizePath(url.pathname);
    const method = req.method.toUpperCase();
    const router = routers.current();
    const ctx: RequestContext = {
      requestId,
      started,
      method,
      path,
      summary: {},
      events: monitoring?.events,
      log,
      config,
      router,
      fetch: upstreamFetch,
      newId,
      warnedDropped,
      jsonMemo,
      responsesModels,
      redact: redactFor(router),
      addressGuard: deps.addressGuard,
      recorder: deps.recorder,
      openStreams: deps.openStreams,
    };
    // Every answer passes here: one request-log line each, unless the route logs it later.
    const done = (res: Response, dropBody = false): Response => {
      const s = ctx.summary;
      if (!s.deferred) logRequest(log, ctx, res.status);
      // A deferred answer is a stream that has just opened; its line comes when it ends. A
      // stream whose upstream had everything buffered may have ended already: it is not open.
      else if (!s.logged) {
        ctx.events?.opened({
          id: requestId,
          time: started,
          requestedModel: s.requestedModel,
          target: s.target,
        });
      }
      return withId(res, requestId, dropBody);
    };
    try {
      if (localOnly) {
        const refused = refuseNonLocal(req);
        if (refused) throw refused;
      }
      const side = sideCallResponse(req, method, path);
      if (side) {
        log.debug("client side call", { request_id: requestId, method, path, status: side.status });
        return withId(side, requestId);
      }
      if (path === "/" && (method === "GET" || method === "HEAD")) {
        return done(
          json({
            name: "claude-code-proxy",
            version: VERSION,
            description: "Anthropic Messages API in front of an OpenAI-compatible upstream",
            endpoints: [
              "POST /v1/messages",
              "POST /v1/messages/count_tokens",
              "GET /v1/models",
              "GET /health",
            ],
          }),
          method === "HEAD",
        );
      }
      if (path === "/health" && (method === "GET" || method === "HEAD")) {
        return done(json({ status: "ok", version: VERSION }), method === "HEAD");
      }
      const ops = monitoring && opsRoute(req, path, ctx, monitoring, authorized);
      if (ops) return done(ops, method === "HEAD");
      const route = ROUTES.find((r) => r.match(path));
      if (!route && OPENAI_PATHS.test(path)) throw notFound(openAiClientHint(method, url.pathname));
      if (!route) {
        throw notFound(
          `no route for ${method} ${url.pathname}. This proxy serves POST /v1/messages, ` +
            "POST /v1/messages/count_tokens and GET /v1/models; set ANTHROPIC_BASE_URL to the " +
            "proxy's root (http://host:port), without /v1.",
        );
      }
      if (route.method !== method) {
        throw new ProxyError(
          405,
          "invalid_request_error",
          `${method} is not allowed on ${path}; use ${route.method}`,
          { allow: route.method },
        );
      }
      if (!authorized(req)) throw unauthorized();
      if (path !== url.pathname.replace(/\/+$/, "") && url.pathname.includes("/v1/v1/")) {
        log.debug("doubled /v1 in the request path: set ANTHROPIC_BASE_URL without /v1", {
          path: url.pathname,
        });
      }
      return done(await route.run(req, path, ctx));
    } catch (err) {
      const e = err instanceof ClientGone
        ? new ProxyError(499, "api_error", "client disconnected")
        : toProxyError(err);
      if (!(err instanceof ProxyError) && !(err instanceof ClientGone)) {
        log.error("unexpected error", {
          request_id: requestId,
          error: err instanceof Error ? err.stack ?? err.message : String(err),
        });
      }
      const shown = redactError(e, ctx.redact);
      logRequest(log, ctx, e.status, { error: e.type, message: shown.message });
      return withId(errorResponse(shown), requestId);
    }
  };
}

/** Paths of OpenAI's APIs, which OpenAI-style clients call when pointed at this proxy. */
const OPENAI_PATHS = /^(\/v1)?\/(chat\/completions|completions|responses|embeddings)$/;

/** Advice for an OpenAI-style client; ANTHROPIC_BASE_URL would mean nothing to it. */
function openAiClientHint(method: string, pathname: string): string {
  return `no route for ${method} ${pathname}: this proxy speaks Anthropic's Messages API ` +
    "(POST /v1/messages), not OpenAI's. Point an Anthropic client at it (Claude Code, the " +
    "Anthropic SDKs); an OpenAI client can use your upstream directly.";
}

type Route = {
  method: string;
  match: (path: string) => boolean;
  run: (req: Request, path: string, ctx: RequestContext) => Promise<Response>;
};

const ROUTES: Route[] = [
  {
    method: "POST",
    match: (p) => p === "/v1/messages",
    run: (req, _p, ctx) => handleMessages(req, ctx),
  },
  {
    method: "POST",
    match: (p) => p === "/v1/messages/count_tokens",
    run: (req, _p, ctx) => handleCountTokens(req, ctx),
  },
  { method: "GET", match: (p) => p === "/v1/models", run: (req, _p, ctx) => listModels(req, ctx) },
  {
    method: "GET",
    match: (p) => p.startsWith("/v1/models/") && p.length > "/v1/models/".length,
    run: (_req, p, ctx) => Promise.resolve(retrieveModel(modelId(p), ctx)),
  },
];

/** The model id of `/v1/models/{id}`; a malformed escape (`%ff`) is the client's error. */
function modelId(path: string): string {
  const raw = path.slice("/v1/models/".length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalidRequest(`malformed percent-encoding in the model id "${raw}"`);
  }
}

function fixed(router: Router): () => Router {
  return () => router;
}

function withId(res: Response, requestId: string, dropBody = false): Response {
  res.headers.set("request-id", requestId);
  if (dropBody) return new Response(null, { status: res.status, headers: res.headers });
  return res;
}
