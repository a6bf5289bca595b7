/**
 * `POST /v1/messages`: validate, route, convert for the upstream's protocol, send, and answer
 * with the converted message or stream. Knows the Protocol interface, none of its insides.
 */
import { invalidRequest, ProxyError, seconds } from "../anthropic/errors.ts";
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
  const { config, log } = ctx;
  const raw = await parseJsonBody(req, config);
  const parsed = MessagesRequest.safeParse(raw);
  if (!parsed.success) throw invalidRequest(formatZodError(parsed.error));
  const request = parsed.data;
  const { provider, model } = ctx.router.route(request.model);
  const info = modelInfo(model, provider);
  const stream = request.stream === true;
  const summary = ctx.summary;
  summary.model = `${request.model} -> ${model}`;
  summary.requestedModel = request.model;
  summary.target = `${provider.name}/${model}`;
  summary.stream = stream;

  const inputEstimate = estimateInputTokens(request, model);
  const exchange = protocolFor(provider.api).exchange({
    request,
    provider,
    model,
    info,
    apiKey: provider.apiKey,
    messageId: `msg_${ctx.newId()}`,
    inputTokensEstimate: inputEstimate,
    jsonMemo: ctx.jsonMemo,
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
    httpError: exchange.httpError,
    // Set for an upstream error answer too; a connection that failed has no first byte.
    onHeaders: () => (summary.ttfbMs = Date.now() - ctx.started),
  }, { fetch: ctx.fetch, log });

  const contentType = upstream.response.headers.get("content-type") ?? "";
  const upstreamStreams = contentType.includes("text/event-stream");

  if (stream && upstreamStreams && upstream.response.body) {
    const converter = log.enabled("debug")
      ? new RecordingConverter(exchange.stream())
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
      onFirstContent: () => (summary.ttftMs = Date.now() - ctx.started),
      onEnd: (outcome) => {
        // A stream cut short reports what it had: the input estimate and the output so far.
        const usage = converter.usageSoFar;
        summary.inputTokens = usage.input_tokens;
        summary.outputTokens = usage.output_tokens;
        summary.cachedTokens = usage.cache_read_input_tokens;
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
  const message = await readUpstreamMessage(upstream, exchange, ctx, provider.requestTimeoutMs);
  summary.inputTokens = message.usage.input_tokens;
  summary.outputTokens = message.usage.output_tokens;
  summary.cachedTokens = message.usage.cache_read_input_tokens;
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
  return exchange.message(value);
}
