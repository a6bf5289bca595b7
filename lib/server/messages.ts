/**
 * `POST /v1/messages`: validate, route, convert for the upstream's protocol, send, and answer
 * with the converted message or stream. Knows the Protocol interface, none of its insides.
 */
import {
  answersWithEvents,
  eventsAnswer,
  looksLikeEvents,
  streamedMessage,
} from "../upstreams/event_stream.ts";
import { displayUrl } from "../common/secret_values.ts";
import { invalidRequest, ProxyError, redactError, toProxyError } from "../anthropic/errors.ts";
import { messageEvents } from "../anthropic/message_events.ts";
import { ignoredFields, type MessageResponse, MessagesRequest } from "../anthropic/schema.ts";
import { compiled } from "../common/compiled_schema.ts";
import { encodeEvents } from "../anthropic/sse_encode.ts";
import { formatZodError } from "../anthropic/validation.ts";
import { debugBody } from "../ops/debug_body.ts";
import { logRequest } from "../ops/request_log.ts";
import { encodingForModel, estimateInputTokens } from "../tokens/count.ts";
import { modelInfo } from "../upstreams/model_info.ts";
import type { Exchange } from "../upstreams/protocol.ts";
import type { UpstreamApi } from "../upstreams/provider.ts";
import { describeChain, type Target, targetName } from "../routing/router.ts";
import { protocolFor } from "../upstreams/protocols.ts";
import {
  callUpstream,
  ClientGone,
  readAnswer,
  SHUTTING_DOWN,
  type UpstreamResponse,
} from "../upstreams/transport.ts";
import { sendWithApiChoice, type Sent } from "./api_fallback.ts";
import type { RequestContext } from "./context.ts";
import { checkContextWindow } from "./context_window.ts";
import { parseJsonBody } from "./json_body.ts";
import { json } from "./json_response.ts";
import { RecordingConverter } from "./recording_converter.ts";
import { serverToolAnswer } from "./server_tools/hook.ts";
import { driveStream, loggedStatus } from "./stream_response.ts";
import type { ExchangeRecording } from "./exchange_recorder.ts";
import { countsAgainstProvider, fallbackCause, keyRestMs } from "./fallback.ts";
import type { FallbackCause } from "../routing/file_schema.ts";

/** Names the provider/model that answered (or failed last), on every /v1/messages answer. */
export const UPSTREAM_HEADER = "x-ccp-upstream";

/**
 * The target's name as a header value. A client may send any model name through, and a header
 * takes only Latin-1 without line breaks: anything outside printable ASCII is percent-encoded,
 * so the answer never fails after the upstream has given it.
 */
function upstreamHeaderValue(target: Target): string {
  const name = targetName(target);
  return /^[\x20-\x7e]*$/.test(name)
    ? name
    : name.replace(/[^\x20-\x7e]+/gu, (run) => encodeURIComponent(run));
}

/**
 * Upstream silence after which an empty content delta goes out (see EventConverter.keepAlive):
 * well inside Claude Code's 300 s stream watchdog, which does not count pings.
 */
const CONTENT_KEEPALIVE_MS = 60_000;

/** How many distinct dropped types and fields are logged (once each) per process. */
const MAX_WARNED = 256;

const messagesRequest = compiled(MessagesRequest);

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

export async function handleMessages(req: Request, ctx: RequestContext): Promise<Response> {
  const raw = await parseJsonBody(req, ctx.config);
  // Named in the log and on the dashboard even when the request turns out invalid.
  const model = (raw as { model?: unknown } | null)?.model;
  if (typeof model === "string") ctx.summary.requestedModel = model.slice(0, 256);
  const parsed = messagesRequest().safeParse(raw);
  if (!parsed.success) throw invalidRequest(formatZodError(parsed.error));
  const rec = ctx.recorder?.begin(
    ctx.requestId,
    ctx.started,
    raw,
    req.headers,
    parsed.data.stream === true,
    ctx.redact,
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

/** Routes the request and tries its chain, entry by entry, until one answers. */
async function answer(
  req: Request,
  ctx: RequestContext,
  raw: unknown,
  request: MessagesRequest,
  rec: ExchangeRecording | undefined,
): Promise<Response> {
  const summary = ctx.summary;
  summary.stream = request.stream === true;
  const router = ctx.router;
  let estimate: number | undefined;
  const routed = router.route(
    request,
    () => (estimate ??= estimateInputTokens(request, request.model)),
  );
  // A routing rule's estimate serves the attempts whose model counts with the same tokenizer.
  const estimateFor = (model: string) =>
    estimate !== undefined && encodingForModel(model) === encodingForModel(request.model)
      ? estimate
      : estimateInputTokens(request, model);
  const file = router.file;
  if (file === undefined) {
    // No configuration file: one provider, one attempt, as before routing existed.
    const target = routed.chain[0]!;
    try {
      return await attempt(
        req,
        raw,
        request,
        target,
        target.provider.apiKey,
        () => false,
        ctx,
        estimateFor,
        rec,
      );
    } catch (err) {
      throw err instanceof AttemptFailed ? tagged(err.error, target) : err;
    }
  }

  summary.route = `${routed.via}: ${describeChain(routed.chain)}`;
  const health = file.health;
  const failures: string[] = [];
  const chain = routed.chain;
  let soonestRetryMs = Infinity;
  let lastError: ProxyError | undefined;
  /** An upstream's refusal (401, 403) of every key of a provider skipped for it. */
  let refusal: { error: ProxyError; name: string } | undefined;
  /** An entry was skipped for a while only (circuit open, keys resting after a 429). */
  let waitable = false;
  for (let i = 0; i < chain.length; i++) {
    const target = chain[i]!;
    const name = targetName(target);
    const provider = target.provider.name;
    const closed = health.admit(provider);
    if (closed) {
      failures.push(`${name}: skipped (${closed.reason})`);
      soonestRetryMs = Math.min(soonestRetryMs, closed.retryInMs);
      waitable = true;
      continue;
    }
    // Each key of the pool at most once per entry; a failing key rests, so the next differs.
    let keysFailed: FallbackCause | "other" | undefined;
    for (let tries = 0; tries < Math.max(1, target.provider.apiKeys.length); tries++) {
      keysFailed = undefined;
      const picked = health.pickKey(provider, target.provider.apiKeys);
      if ("reason" in picked) {
        failures.push(`${name}: skipped (${picked.reason})`);
        soonestRetryMs = Math.min(soonestRetryMs, picked.retryInMs);
        if (picked.refusal instanceof ProxyError) refusal ??= { error: picked.refusal, name };
        else waitable = true;
        health.released(provider);
        break;
      }
      const last = i === chain.length - 1;
      const keys = target.provider.apiKeys;
      // Retried where it happened unless something else takes it over at once: another key of
      // the pool that is free after a 429, or the next entry for a cause `fallback.on` lists.
      const handedOver = (error: ProxyError, answered: boolean) => {
        if (error.status === 429 && health.hasFreeKeyBesides(provider, keys, picked.key)) {
          return true;
        }
        const cause = fallbackCause(error, answered);
        return !last && cause !== undefined && file.fallbackOn.has(cause);
      };
      try {
        const res = await attempt(
          req,
          raw,
          request,
          target,
          picked.key,
          handedOver,
          ctx,
          estimateFor,
          rec,
        );
        health.succeeded(provider);
        if (failures.length > 0) summary.attempts = failures;
        return res;
      } catch (err) {
        if (!(err instanceof AttemptFailed)) {
          health.released(provider);
          throw err;
        }
        if (err.error === SHUTTING_DOWN) {
          // Ended by the shutdown, not by the provider: nothing to count, nothing to try next.
          health.released(provider);
          failures.push(`${name}: ended by the shutdown`);
          summary.attempts = failures;
          throw tagged(err.error, target);
        }
        const error = tagged(err.error, target);
        const cause = fallbackCause(error, err.answered);
        if (countsAgainstProvider(cause)) health.failed(provider, file.breaker);
        else health.succeeded(provider);
        failures.push(`${name}: ${error.status} ${error.type}`);
        summary.attempts = failures;
        lastError = error;
        const rest = picked.key === undefined
          ? undefined
          : keyRestMs(error, file.breaker.cooldownMs);
        if (rest !== undefined && picked.key !== undefined) {
          const refused = error.status === 401 || error.status === 403 ? error : undefined;
          health.restKey(provider, picked.key, rest, refused);
          // Another key of the same provider may do (429 on one key, a revoked key).
          if (target.provider.apiKeys.length > 1) {
            keysFailed = cause ?? "other";
            continue;
          }
        }
        if (cause === undefined || !file.fallbackOn.has(cause) || last) throw error;
        break;
      }
    }
    // Every key failed in turn: the last failure decides, as for a single key.
    if (keysFailed !== undefined && lastError) {
      if (keysFailed === "other" || !file.fallbackOn.has(keysFailed)) throw lastError;
    }
  }
  if (lastError) throw lastError;
  // Every entry was skipped. When the only reason is keys the upstream refused, waiting does not
  // help: the client hears the refusal again (not retryable), as it did the first time.
  if (refusal && !waitable) {
    failures.push(`${refusal.name}: ${refusal.error.status} ${refusal.error.type}`);
    summary.attempts = failures;
    throw refusal.error;
  }
  // Otherwise say when an entry is expected back.
  const retryAfter = Number.isFinite(soonestRetryMs)
    ? Math.max(1, Math.ceil(soonestRetryMs / 1000))
    : 1;
  throw new ProxyError(
    529,
    "overloaded_error",
    `no upstream can take the request now: ${failures.join("; ")}`,
    { "retry-after": String(retryAfter), "x-should-retry": "true" },
  );
}

/** A failure of one attempt, before anything was sent to the client. */
class AttemptFailed extends Error {
  constructor(readonly error: ProxyError, readonly answered: boolean) {
    super(error.message);
  }
}

/** The error with the header naming the upstream that gave it. */
function tagged(err: ProxyError, target: Target): ProxyError {
  return new ProxyError(err.status, err.type, err.message, {
    ...err.headers,
    [UPSTREAM_HEADER]: upstreamHeaderValue(target),
  });
}

/**
 * One chain entry: convert, send, answer. Returns the client's response once it is committed
 * (a stream has started, or a whole answer was read); throws AttemptFailed for a failure that
 * left the client untouched, so the caller may try the next entry.
 */
async function attempt(
  req: Request,
  raw: unknown,
  request: MessagesRequest,
  target: Target,
  apiKey: string | undefined,
  handedOver: (error: ProxyError, answered: boolean) => boolean,
  ctx: RequestContext,
  estimateFor: (model: string) => number,
  rec: ExchangeRecording | undefined,
): Promise<Response> {
  const { log } = ctx;
  const { provider, model } = target;
  const info = modelInfo(model, provider);
  const stream = request.stream === true;
  const summary = ctx.summary;
  summary.model = `${request.model} -> ${model}`;
  summary.requestedModel = request.model;
  summary.target = targetName(target);
  summary.stream = stream;
  const upstreamHeader = { [UPSTREAM_HEADER]: upstreamHeaderValue(target) };
  let answered = false;
  const withServerTools = serverToolAnswer(req, raw, request, ctx, {
    provider,
    model,
    info,
    apiKey,
    firstRoundHandedOver: handedOver,
    onAnswered: () => (answered = true),
  });
  if (withServerTools) {
    try {
      const res = await withServerTools;
      res.headers.set(UPSTREAM_HEADER, upstreamHeader[UPSTREAM_HEADER]);
      return res;
    } catch (err) {
      // Nothing reached the client yet: the next entry of the chain may answer instead.
      if (err instanceof ProxyError) throw new AttemptFailed(err, answered);
      throw err;
    }
  }

  const inputEstimate = estimateFor(model);
  try {
    checkContextWindow(inputEstimate, info);
  } catch (err) {
    // Too long for this entry's window: a later entry may have a longer one.
    if (err instanceof ProxyError) throw new AttemptFailed(err, true);
    throw err;
  }
  const messageId = `msg_${ctx.newId()}`;
  const exchangeFor = (api: UpstreamApi): Exchange => {
    const exchange = protocolFor(api).exchange({
      request,
      provider,
      model,
      info,
      apiKey,
      messageId,
      inputTokensEstimate: inputEstimate,
      jsonMemo: ctx.jsonMemo,
      sessionId: req.headers.get("x-claude-code-session-id") ?? undefined,
      clientBody: raw,
      clientHeaders: req.headers,
    });
    rec?.upstreamRequest({
      provider: provider.name,
      api,
      profile: provider.profile.name,
      // A password or key in the URL is masked; replay needs neither.
      base_url: displayUrl(provider.baseUrl),
      ...(provider.settingNames ? { setting_names: { ...provider.settingNames } } : {}),
      model,
      message_id: messageId,
      input_tokens_estimate: inputEstimate,
      url: displayUrl(exchange.url),
      headers: exchange.headers,
      body: exchange.body,
    });
    return exchange;
  };
  const onExchange = (exchange: Exchange) => {
    if (log.enabled("debug")) {
      for (const type of [...exchange.dropped, ...ignoredFields(raw)]) {
        // Type and field names come from clients: the set of those already logged stays bounded.
        warnOnce(ctx, type, "dropped content with no upstream equivalent");
      }
      log.debug("upstream request", {
        request_id: ctx.requestId,
        body: debugBody(exchange.body, ctx.redact),
      });
    }
  };
  let sent: Sent;
  try {
    sent = await sendWithApiChoice({
      provider,
      model,
      remembered: ctx.responsesModels,
      log,
      exchangeFor,
      onExchange,
      send: (exchange) => {
        summary.upstreamCalled = true;
        return callUpstream({
          url: exchange.url,
          headers: exchange.headers,
          body: exchange.body,
          clientSignal: req.signal,
          firstByteTimeoutMs: stream
            ? provider.firstByteTimeoutMs
            : provider.nonStreamFirstByteTimeoutMs,
          firstByteSetting: stream
            ? provider.settingNames?.firstByteTimeout ?? "FIRST_BYTE_TIMEOUT"
            : provider.settingNames?.nonStreamFirstByteTimeout ?? "NONSTREAM_FIRST_BYTE_TIMEOUT",
          totalTimeoutMs: provider.requestTimeoutMs,
          totalSetting: provider.settingNames?.requestTimeout,
          maxRetries: provider.maxRetries,
          handedOver,
          retryMaxDelayMs: provider.retryMaxDelayMs,
          httpError: rec ? rec.tapHttpError(exchange.httpError) : exchange.httpError,
          // Set for an upstream error answer too; a connection that failed has no first byte.
          onHeaders: () => {
            answered = true;
            summary.ttfbMs = Date.now() - ctx.started;
          },
        }, { fetch: ctx.fetch, log, open: ctx.openStreams });
      },
    });
  } catch (err) {
    if (err instanceof ProxyError) throw new AttemptFailed(err, answered);
    throw err;
  }
  const { exchange, upstream } = sent;

  const upstreamStreams = answersWithEvents(upstream.response);

  if (stream && upstreamStreams && upstream.response.body) {
    return streamAnswer(upstream, upstream.response.body, exchange, provider, ctx, rec, {
      ...SSE_HEADERS,
      ...upstreamHeader,
    });
  }

  // A non-streamed answer (also when the upstream ignored `stream: true`).
  let text: string;
  try {
    text = await readUpstreamText(upstream, ctx);
    rec?.upstreamBody(text);
    if (exchange.passThrough && !stream) {
      const answer = exchange.passThrough(text);
      // The upstream's own message, as the client gets it.
      if (rec) rec.finishMessage(JSON.parse(answer.body) as MessageResponse);
      summary.inputTokens = answer.usage.input_tokens;
      summary.outputTokens = answer.usage.output_tokens;
      summary.cachedTokens = answer.usage.cache_read_input_tokens;
      return new Response(answer.body, {
        headers: { "content-type": "application/json", ...upstreamHeader },
      });
    }
    // A stream under another media type: what the client asked for, once it is all here. The
    // upstream request is over (its body read): the stream runs on the text alone.
    if (stream && looksLikeEvents(text)) {
      const read = eventsAnswer(upstream, text);
      return streamAnswer(read, read.response.body!, exchange, provider, ctx, rec, {
        ...SSE_HEADERS,
        ...upstreamHeader,
      });
    }
    // Also a stream where a whole answer was asked for.
    const message = readMessageBody(text, exchange, upstreamStreams);
    rec?.finishMessage(message);
    summary.inputTokens = message.usage.input_tokens;
    summary.outputTokens = message.usage.output_tokens;
    summary.cachedTokens = message.usage.cache_read_input_tokens;
    if (stream) {
      return new Response(encodeEvents(messageEvents(message)), {
        status: 200,
        headers: { ...SSE_HEADERS, ...upstreamHeader },
      });
    }
    const res = json(message);
    res.headers.set(UPSTREAM_HEADER, upstreamHeader[UPSTREAM_HEADER]);
    return res;
  } catch (err) {
    if (err instanceof ProxyError) throw new AttemptFailed(err, true);
    throw err;
  }
}

/**
 * The client's streamed answer. A function of its own so that the callbacks the stream keeps
 * for its whole life hold only what they use: closures made in `attempt` would share its scope,
 * and with it the client's request, parsed and validated, for every stream in flight.
 */
function streamAnswer(
  upstream: UpstreamResponse,
  body: ReadableStream<Uint8Array>,
  exchange: Exchange,
  provider: Target["provider"],
  ctx: RequestContext,
  rec: ExchangeRecording | undefined,
  headers: Record<string, string>,
): Response {
  const { log, summary } = ctx;
  // The stream is listed for a shutdown itself (open: below), and ends its upstream call.
  upstream.unlist();
  const debug = log.enabled("debug");
  const converter = debug || rec
    ? new RecordingConverter(exchange.stream(), { debug, tap: rec })
    : exchange.stream();
  summary.deferred = true;
  const out = driveStream({
    body,
    upstreamSignal: upstream.signal,
    converter,
    idleTimeoutMs: provider.streamIdleTimeoutMs,
    idleSetting: provider.settingNames?.streamIdleTimeout,
    pingIntervalMs: ctx.config.pingIntervalMs,
    keepAliveMs: CONTENT_KEEPALIVE_MS,
    abortUpstream: upstream.abort,
    redact: ctx.redact,
    open: ctx.openStreams,
    onFirstContent: () => (summary.ttftMs = Date.now() - ctx.started),
    onEnd: (outcome) => {
      // A stream cut short reports what it had: the input estimate and the output so far.
      const usage = converter.usageSoFar;
      if (log.enabled("debug")) {
        for (const type of converter.ignoredEvents ?? []) {
          warnOnce(ctx, `event:${type}`, "ignored an upstream stream event of unknown type");
        }
      }
      summary.inputTokens = usage.input_tokens;
      summary.outputTokens = usage.output_tokens;
      summary.cachedTokens = usage.cache_read_input_tokens;
      rec?.finishStream(outcome.status, outcome.error);
      if (debug && converter instanceof RecordingConverter) {
        log.debug("upstream response", {
          request_id: ctx.requestId,
          ...converter.recorded(ctx.redact),
        });
      }
      const status = loggedStatus(outcome);
      logRequest(
        log,
        ctx,
        status,
        outcome.error ? { error: outcome.error.type, message: outcome.error.message } : {},
      );
    },
  });
  return new Response(out, { status: 200, headers });
}

/** A debug note for each dropped type or ignored event, once per process (bounded). */
function warnOnce(ctx: RequestContext, type: string, message: string): void {
  if (ctx.warnedDropped.has(type) || ctx.warnedDropped.size >= MAX_WARNED) return;
  ctx.warnedDropped.add(type);
  ctx.log.debug(message, { type });
}

async function readUpstreamText(
  upstream: UpstreamResponse,
  ctx: RequestContext,
): Promise<string> {
  const text = await readAnswer(upstream);
  if (ctx.log.enabled("debug")) {
    ctx.log.debug("upstream response", {
      request_id: ctx.requestId,
      body: debugBody(text, ctx.redact),
    });
  }
  return text;
}

/**
 * A whole 2xx answer's body → the client's message (shared with `replay`). An event stream sent
 * instead (labelled as one, or looking like one) is read through the stream converter.
 */
export function readMessageBody(
  text: string,
  exchange: Pick<Exchange, "message" | "stream">,
  labelledStream = false,
): MessageResponse {
  // The label alone is not trusted: some servers send a whole JSON answer as text/event-stream.
  const streamed = looksLikeEvents(text) || (labelledStream && /^\uFEFF?\s*[^\s{[]/.test(text));
  if (streamed) return streamedMessage(exchange.stream(), text);
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
