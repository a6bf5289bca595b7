/**
 * The HTTP handler: routes, auth, body limits and parsing, and the request path
 * convert_request → upstream → convert_response / stream. A plain `(Request) => Response`
 * function with no runtime-specific code and no per-process state that matters for
 * correctness, so any number of instances can serve behind a load balancer.
 */
import { CountTokensRequest, ignoredFields, MessagesRequest } from "../anthropic/schema.ts";
import type { Config } from "../ops/config.ts";
import { convertRequest } from "../upstreams/chat/request.ts";
import { convertResponse } from "../upstreams/chat/response.ts";
import {
  errorResponse,
  invalidRequest,
  notFound,
  ProxyError,
  redactError,
  seconds,
  toProxyError,
} from "../anthropic/errors.ts";
import { exceedsDepth, SchemaTooDeepError } from "../upstreams/openai/json_schema.ts";
import { type Logger, makeRedactor } from "../ops/log.ts";
import { mapModel, modelInfo } from "../upstreams/model_info.ts";
import { listModels, retrieveModel } from "./models_endpoint.ts";
import {
  chatCompletionsUrl,
  type Profile,
  resolveProfile,
  upstreamHeaders,
} from "../upstreams/openai/profiles.ts";
import { readBody } from "./read_body.ts";
import { StreamConverter } from "../upstreams/chat/stream.ts";
import { toolSchemas } from "../upstreams/openai/tool_args.ts";
import { driveStream } from "./stream_response.ts";
import { messageEvents } from "../anthropic/message_events.ts";
import { encodeEvents } from "../anthropic/sse_encode.ts";
import { countTokens, estimateInputTokens, loadTokenizer } from "../tokens/count.ts";
import {
  callUpstream,
  ClientGone,
  type Fetch,
  readText,
  type UpstreamResponse,
} from "../upstreams/transport.ts";
import { formatZodError } from "../anthropic/validation.ts";
import { JsonMemo, stringifyObject } from "../common/json_text.ts";
import { logRequest, type RequestSummary } from "../ops/request_log.ts";
import { debugBody, RecordingConverter } from "../ops/debug_body.ts";
import { upstreamErrorInStream } from "../upstreams/openai/errors.ts";
import { VERSION } from "../ops/version.ts";

export type HandlerDeps = {
  fetch?: Fetch;
  log: Logger;
  /** Fresh ids; injectable for deterministic tests. */
  newId?: () => string;
};

export type Handler = (req: Request) => Promise<Response>;

const JSON_HEADERS = { "content-type": "application/json" };

/** Deeper request bodies are refused; real ones (tool schemas included) stay far below. */
const MAX_BODY_DEPTH = 512;

function json(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { ...JSON_HEADERS, ...headers } });
}

function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 24);
}

/** Constant-time comparison, so response timing does not reveal how much of a key matched. */
export function safeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  for (let i = 0; i < eb.length; i++) diff |= (ea[i % Math.max(1, ea.length)] ?? 0) ^ eb[i]!;
  return diff === 0 && ea.length === eb.length;
}

/**
 * Every key the client presented. The SDKs send both headers when both ANTHROPIC_API_KEY and
 * ANTHROPIC_AUTH_TOKEN are set (often a real Anthropic key next to the proxy's), so either
 * one carrying the proxy's key is enough.
 */
function clientKeys(req: Request): string[] {
  const keys: string[] = [];
  const key = req.headers.get("x-api-key")?.trim();
  if (key) keys.push(key);
  const m = req.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i);
  if (m) keys.push(m[1]!.trim());
  return keys;
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
  const profile = resolveProfile(config);
  const headers = upstreamHeaders(config, profile);
  const warnedDropped = new Set<string>();
  // Serialized tools and history reused across turns; verified equal on every use.
  const jsonMemo = new JsonMemo();
  // Upstreams echo keys in error bodies; no client may read one back.
  const redact = makeRedactor([config.openaiApiKey, config.anthropicApiKey]);

  const authorized = (req: Request) => {
    if (!config.anthropicApiKey) return true;
    const expected = config.anthropicApiKey;
    // Both compared every time, so timing does not tell which header was right.
    return clientKeys(req).reduce((ok, key) => safeEqual(key, expected) || ok, false);
  };

  return async function handle(req: Request): Promise<Response> {
    const requestId = `req_${newId()}`;
    const started = Date.now();
    const url = new URL(req.url);
    const path = normalizePath(url.pathname);
    const method = req.method.toUpperCase();
    const ctx: RequestContext = {
      requestId,
      started,
      method,
      path,
      summary: {},
      log,
      config,
      profile,
      headers,
      newId,
      warnedDropped,
      jsonMemo,
      redact,
    };
    // Every answer passes here: one request-log line each, unless the route logs it later.
    const done = (res: Response, dropBody = false): Response => {
      if (!ctx.summary.deferred) logRequest(log, ctx, res.status);
      return withId(res, requestId, dropBody);
    };
    try {
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
      const route = ROUTES.find((r) => r.match(path));
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
      if (!authorized(req)) {
        throw new ProxyError(
          401,
          "authentication_error",
          // Worded so the secret redactor, which every error message passes, leaves it whole.
          "invalid or missing API key: send the proxy's ANTHROPIC_API_KEY as the x-api-key " +
            "header or as a Bearer token in the authorization header",
          { "x-should-retry": "false" },
        );
      }
      if (path !== url.pathname.replace(/\/+$/, "") && url.pathname.includes("/v1/v1/")) {
        log.debug("doubled /v1 in the request path: set ANTHROPIC_BASE_URL without /v1", {
          path: url.pathname,
        });
      }
      return done(await route.run(req, path, ctx, upstreamFetch));
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
      logRequest(log, ctx, e.status, { error: e.type });
      return withId(errorResponse(redactError(e, redact)), requestId);
    }
  };
}

export type RequestContext = {
  requestId: string;
  started: number;
  method: string;
  path: string;
  /** Filled in by the route for the request log. */
  summary: RequestSummary;
  log: Logger;
  config: Config;
  profile: Profile;
  headers: Record<string, string>;
  newId: () => string;
  warnedDropped: Set<string>;
  jsonMemo: JsonMemo;
  redact: (text: string) => string;
};

type Route = {
  method: string;
  match: (path: string) => boolean;
  run: (req: Request, path: string, ctx: RequestContext, fetch: Fetch) => Promise<Response>;
};

const ROUTES: Route[] = [
  { method: "POST", match: (p) => p === "/v1/messages", run: handleMessages },
  { method: "POST", match: (p) => p === "/v1/messages/count_tokens", run: handleCountTokens },
  {
    method: "GET",
    match: (p) => p === "/v1/models",
    run: (req, _p, ctx, f) => listModels(req, ctx, f),
  },
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

function withId(res: Response, requestId: string, dropBody = false): Response {
  res.headers.set("request-id", requestId);
  if (dropBody) return new Response(null, { status: res.status, headers: res.headers });
  return res;
}

async function parseJsonBody(req: Request, ctx: RequestContext): Promise<unknown> {
  const type = req.headers.get("content-type")?.toLowerCase() ?? "";
  // curl -d sends form encoding by default; anything else that is not JSON-ish is refused.
  if (type && !/json|text\/plain|application\/x-www-form-urlencoded/.test(type)) {
    throw new ProxyError(
      415,
      "invalid_request_error",
      `unsupported content-type "${type}": send application/json`,
    );
  }
  const text = await readBody(req, ctx.config.maxRequestBytes, ctx.config.requestTimeoutMs);
  if (text.trim() === "") throw invalidRequest("request body is empty: expected a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? err.message : "parse error";
    throw invalidRequest(`request body is not valid JSON: ${detail}`);
  }
  // Validation, conversion, the serializer's memo and token counting all recurse; without a
  // fixed limit a deep body got a 200 or a 400 depending on the runtime's stack and on what
  // earlier requests had left in the memo. (~6 µs for a 75 KB Claude Code body.)
  if (exceedsDepth(value, MAX_BODY_DEPTH)) {
    throw invalidRequest(`request body is nested more than ${MAX_BODY_DEPTH} levels deep`);
  }
  return value;
}

async function handleCountTokens(
  req: Request,
  _path: string,
  ctx: RequestContext,
): Promise<Response> {
  const body = await parseJsonBody(req, ctx);
  const parsed = CountTokensRequest.safeParse(body);
  if (!parsed.success) throw invalidRequest(formatZodError(parsed.error));
  const upstreamModel = mapModel(parsed.data.model, ctx.config);
  ctx.summary.model = `${parsed.data.model} -> ${upstreamModel}`;
  await loadTokenizer(upstreamModel);
  try {
    const inputTokens = countTokens(parsed.data, upstreamModel);
    ctx.summary.inputTokens = inputTokens;
    return json({ input_tokens: inputTokens });
  } catch (err) {
    if (err instanceof RangeError) throw invalidRequest("request is nested too deeply");
    throw err;
  }
}

async function handleMessages(
  req: Request,
  _path: string,
  ctx: RequestContext,
  fetch: Fetch,
): Promise<Response> {
  const { config, profile, log } = ctx;
  const raw = await parseJsonBody(req, ctx);
  const parsed = MessagesRequest.safeParse(raw);
  if (!parsed.success) throw invalidRequest(formatZodError(parsed.error));
  const request = parsed.data;
  const upstreamModel = mapModel(request.model, config);
  const info = modelInfo(upstreamModel, config);
  const stream = request.stream === true;
  const summary = ctx.summary;
  summary.model = `${request.model} -> ${upstreamModel}`;
  summary.stream = stream;

  let converted;
  let bodyText: string;
  try {
    converted = convertRequest(request, {
      upstreamModel,
      info,
      profile,
      maxTokensLimit: config.maxTokensLimit,
      extraBody: config.extraBody,
      thresholds: config.effortThresholds,
    });
    bodyText = stringifyObject(converted.body, ctx.jsonMemo);
  } catch (err) {
    if (err instanceof SchemaTooDeepError || err instanceof RangeError) {
      throw invalidRequest("request is nested too deeply (tool schemas or inputs)");
    }
    throw err;
  }
  if (!converted.body.messages.some((m) => m.role !== "system")) {
    // Every block was empty or had no OpenAI form (file ids, server tool blocks): upstreams
    // 400 on [] or answer a lone system prompt. Anthropic refuses empty text blocks too.
    throw invalidRequest(
      converted.dropped.length > 0
        ? `nothing in messages can be sent to the upstream (left out: ${
          converted.dropped.join(", ")
        })`
        : "messages have no content: text content blocks must be non-empty",
    );
  }
  if (log.enabled("debug")) {
    for (const type of [...converted.dropped, ...ignoredFields(raw)]) {
      // Type and field names come from clients: the set of those already logged stays bounded.
      if (!ctx.warnedDropped.has(type) && ctx.warnedDropped.size < MAX_WARNED) {
        ctx.warnedDropped.add(type);
        log.debug("dropped content with no OpenAI equivalent", { type });
      }
    }
    log.debug("upstream request", {
      request_id: ctx.requestId,
      body: debugBody(bodyText, ctx.redact),
    });
  }
  const inputEstimate = estimateInputTokens(request, upstreamModel);
  const messageId = `msg_${ctx.newId()}`;
  const upstream = await callUpstream({
    url: chatCompletionsUrl(config, profile, upstreamModel),
    headers: ctx.headers,
    body: bodyText,
    clientSignal: req.signal,
    firstByteTimeoutMs: stream ? config.firstByteTimeoutMs : undefined,
    totalTimeoutMs: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    retryMaxDelayMs: config.retryMaxDelayMs,
    errorContext: { estimatedInputTokens: inputEstimate, contextWindow: info.contextWindow },
    // Set for an upstream error answer too; a connection that failed has no first byte.
    onHeaders: () => (summary.ttfbMs = Date.now() - ctx.started),
  }, { fetch, log });

  const responseOpts = {
    messageId,
    model: request.model,
    inputTokensEstimate: inputEstimate,
    contextWindow: info.contextWindow,
    toolNames: converted.toolNames,
    stopSequences: request.stop_sequences,
    toolSchemas: toolSchemas(request.tools),
  };
  const contentType = upstream.response.headers.get("content-type") ?? "";
  const upstreamStreams = contentType.includes("text/event-stream");

  if (stream && upstreamStreams && upstream.response.body) {
    const converter = log.enabled("debug")
      ? new RecordingConverter(responseOpts)
      : new StreamConverter(responseOpts);
    summary.deferred = true;
    const body = driveStream({
      body: upstream.response.body,
      upstreamSignal: upstream.signal,
      converter,
      idleTimeoutMs: config.streamIdleTimeoutMs,
      pingIntervalMs: config.pingIntervalMs,
      keepAliveMs: CONTENT_KEEPALIVE_MS,
      abortUpstream: upstream.abort,
      redact: ctx.redact,
      onEnd: (outcome) => {
        // A stream cut short reports what it had: the input estimate and the output so far.
        const usage = converter.usageSoFar;
        summary.inputTokens = usage.input_tokens;
        summary.outputTokens = usage.output_tokens;
        if (converter instanceof RecordingConverter) {
          log.debug("upstream response", {
            request_id: ctx.requestId,
            ...converter.recorded(ctx.redact),
          });
        }
        const status = outcome.status === "complete"
          ? 200
          : outcome.status === "client_gone"
          ? 499
          : outcome.error?.status ?? 500;
        logRequest(
          log,
          ctx,
          status,
          outcome.error ? { error: outcome.error.type, message: outcome.error.message } : {},
        );
      },
    });
    return new Response(body, { status: 200, headers: SSE_HEADERS });
  }

  // A non-streamed answer (also when the upstream ignored `stream: true`).
  const message = await readUpstreamJson(upstream, ctx, responseOpts);
  summary.inputTokens = message.usage.input_tokens;
  summary.outputTokens = message.usage.output_tokens;
  if (stream) {
    return new Response(encodeEvents(messageEvents(message)), {
      status: 200,
      headers: SSE_HEADERS,
    });
  }
  return json(message);
}

/**
 * Upstream silence after which an empty content delta goes out (see StreamConverter.keepAlive):
 * well inside Claude Code's 300 s stream watchdog, which does not count pings.
 */
const CONTENT_KEEPALIVE_MS = 60_000;

/** How many distinct dropped types and fields are logged (once each) per process. */
const MAX_WARNED = 256;

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

async function readUpstreamJson(
  upstream: UpstreamResponse,
  ctx: RequestContext,
  opts: Parameters<typeof convertResponse>[1],
) {
  const totalTimeoutMs = ctx.config.requestTimeoutMs;
  let text: string;
  try {
    text = await readText(upstream.response, upstream.signal);
  } catch (err) {
    const why = upstream.abortedBy();
    upstream.abort("done");
    if (why === "client") throw new ClientGone("client disconnected");
    if (why === "total") {
      throw new ProxyError(
        504,
        "timeout_error",
        `upstream request took longer than ${seconds(totalTimeoutMs)} (REQUEST_TIMEOUT)`,
      );
    }
    throw new ProxyError(
      502,
      "api_error",
      `upstream connection failed while reading the answer: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  upstream.abort("done");
  if (ctx.log.enabled("debug")) {
    ctx.log.debug("upstream response", {
      request_id: ctx.requestId,
      body: debugBody(text, ctx.redact),
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const snippet = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200);
    throw new ProxyError(
      502,
      "api_error",
      `upstream answered 200 with a body that is not JSON${
        snippet ? `: ${snippet}` : " (empty body)"
      }`,
    );
  }
  // Some providers answer 200 with an error object instead of a completion.
  const inBody = upstreamErrorInStream(value, undefined, "in a 200 answer", {
    estimatedInputTokens: opts.inputTokensEstimate,
    contextWindow: opts.contextWindow,
  });
  if (inBody) throw inBody;
  return convertResponse(value, opts);
}
