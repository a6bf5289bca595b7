/**
 * `POST /v1/messages`: validate, route, convert for the upstream's protocol, send, and answer
 * with the converted message or stream. Knows the Protocol interface, none of its insides.
 */
import {
  invalidRequest,
  ProxyError,
  redactError,
  seconds,
  toProxyError,
} from "../anthropic/errors.ts";
import { messageEvents } from "../anthropic/message_events.ts";
import { ignoredFields, type MessageResponse, MessagesRequest } from "../anthropic/schema.ts";
import { encodeEvents } from "../anthropic/sse_encode.ts";
import { formatZodError } from "../anthropic/validation.ts";
import { debugBody } from "../ops/debug_body.ts";
import { logRequest } from "../ops/request_log.ts";
import { estimateInputTokens } from "../tokens/count.ts";
import { modelInfo } from "../upstreams/model_info.ts";
import type { Exchange } from "../upstreams/protocol.ts";
import { protocolFor } from "../upstreams/protocols.ts";
import {
  callUpstream,
  ClientGone,
  readText,
  type UpstreamResponse,
} from "../upstreams/transport.ts";
import type { RequestContext } from "./context.ts";
import type { ExchangeRecording } from "./exchange_recorder.ts";
import { parseJsonBody } from "./json_body.ts";
import { json } from "./json_response.ts";
import { RecordingConverter } from "./recording_converter.ts";
import { driveStream } from "./stream_response.ts";

/**
 * Upstream silence after which an empty content delta goes out (see EventConverter.keepAlive):
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

export async function handleMessages(req: Request, ctx: RequestContext): Promise<Response> {
  const raw = await parseJsonBody(req, ctx.config);
  const parsed = MessagesRequest.safeParse(raw);
  if (!parsed.success) throw invalidRequest(formatZodError(parsed.error));
  const rec = ctx.recorder?.begin(
    ctx.requestId,
    ctx.started,
    raw,
    req.headers,
    parsed.data.stream === true,
  );
  if (!rec) return await answer(req, ctx, raw, parsed.data, undefined);
  try {
    return await answer(req, ctx, raw, parsed.data, rec);
  } catch (err) {
    const e = err instanceof ClientGone
      ? new ProxyError(499, "api_error", "client disconnected")
      : toProxyError(err);
    rec.finishError(redactError(e, ctx.redact));
    throw err;
  }
}

async function answer(
  req: Request,
  ctx: RequestContext,
  raw: unknown,
  request: MessagesRequest,
  rec: ExchangeRecording | undefined,
): Promise<Response> {
  const { config, log } = ctx;
  const { provider, model } = ctx.router.route(request.model);
  const info = modelInfo(model, provider);
  const stream = request.stream === true;
  const summary = ctx.summary;
  summary.model = `${request.model} -> ${model}`;
  summary.stream = stream;

  const inputEstimate = estimateInputTokens(request, model);
  const messageId = `msg_${ctx.newId()}`;
  const exchange = protocolFor(provider.api).exchange({
    request,
    provider,
    model,
    info,
    apiKey: provider.apiKey,
    messageId,
    inputTokensEstimate: inputEstimate,
    jsonMemo: ctx.jsonMemo,
  });
  rec?.upstreamRequest({
    provider: provider.name,
    api: provider.api,
    profile: provider.profile.name,
    base_url: provider.baseUrl,
    model,
    message_id: messageId,
    input_tokens_estimate: inputEstimate,
    url: exchange.url,
    headers: exchange.headers,
    body: exchange.body,
  });
  if (log.enabled("debug")) {
    for (const type of [...exchange.dropped, ...ignoredFields(raw)]) {
      // Type and field names come from clients: the set of those already logged stays bounded.
      if (!ctx.warnedDropped.has(type) && ctx.warnedDropped.size < MAX_WARNED) {
        ctx.warnedDropped.add(type);
        log.debug("dropped content with no upstream equivalent", { type });
      }
    }
    log.debug("upstream request", {
      request_id: ctx.requestId,
      body: debugBody(exchange.body, ctx.redact),
    });
  }
  const upstream = await callUpstream({
    url: exchange.url,
    headers: exchange.headers,
    body: exchange.body,
    clientSignal: req.signal,
    firstByteTimeoutMs: stream ? provider.firstByteTimeoutMs : undefined,
    totalTimeoutMs: provider.requestTimeoutMs,
    maxRetries: provider.maxRetries,
    retryMaxDelayMs: provider.retryMaxDelayMs,
    httpError: rec ? rec.tapHttpError(exchange.httpError) : exchange.httpError,
    // Set for an upstream error answer too; a connection that failed has no first byte.
    onHeaders: () => (summary.ttfbMs = Date.now() - ctx.started),
  }, { fetch: ctx.fetch, log });

  const contentType = upstream.response.headers.get("content-type") ?? "";
  const upstreamStreams = contentType.includes("text/event-stream");

  if (stream && upstreamStreams && upstream.response.body) {
    const debug = log.enabled("debug");
    const converter = debug || rec
      ? new RecordingConverter(exchange.stream(), { debug, tap: rec })
      : exchange.stream();
    summary.deferred = true;
    const body = driveStream({
      body: upstream.response.body,
      upstreamSignal: upstream.signal,
      converter,
      idleTimeoutMs: provider.streamIdleTimeoutMs,
      pingIntervalMs: config.pingIntervalMs,
      keepAliveMs: CONTENT_KEEPALIVE_MS,
      abortUpstream: upstream.abort,
      redact: ctx.redact,
      onEnd: (outcome) => {
        // A stream cut short reports what it had: the input estimate and the output so far.
        const usage = converter.usageSoFar;
        summary.inputTokens = usage.input_tokens;
        summary.outputTokens = usage.output_tokens;
        rec?.finishStream(outcome.status, outcome.error);
        if (debug && converter instanceof RecordingConverter) {
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
  const message = await readUpstreamMessage(
    upstream,
    exchange,
    ctx,
    provider.requestTimeoutMs,
    rec,
  );
  rec?.finishMessage(message);
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

async function readUpstreamMessage(
  upstream: UpstreamResponse,
  exchange: Exchange,
  ctx: RequestContext,
  totalTimeoutMs: number,
  rec: ExchangeRecording | undefined,
): Promise<MessageResponse> {
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
  rec?.upstreamBody(text);
  if (ctx.log.enabled("debug")) {
    ctx.log.debug("upstream response", {
      request_id: ctx.requestId,
      body: debugBody(text, ctx.redact),
    });
  }
  return readMessageBody(text, exchange);
}

/** A whole 2xx answer's body → the client's message (shared with `replay`). */
export function readMessageBody(
  text: string,
  exchange: Pick<Exchange, "message">,
): MessageResponse {
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
  return exchange.message(value);
}
