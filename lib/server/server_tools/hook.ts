/**
 * Where POST /v1/messages hands a request over to the server tool loop: when the client asked
 * for web_search / web_fetch and the provider has a search backend. Without one, the tools stay
 * left out of the upstream request as before, and the log says once how to enable them.
 */
import type { MessagesRequest } from "../../anthropic/schema.ts";
import { logRequest } from "../../ops/request_log.ts";
import { restoreServerBlocks } from "../../websearch/history.ts";
import { type ServerTool, serverToolKind, serverToolsOf } from "../../websearch/tools.ts";
import type { RequestContext } from "../context.ts";
import { json } from "../json_response.ts";
import { driveStream, loggedStatus } from "../stream_response.ts";
import { serverToolMessage } from "./message.ts";
import { type AttemptTarget, ServerToolSession, type Target } from "./session.ts";
import { LoopEvents, WholeMessage } from "./loop_events.ts";
import { loopBody } from "./stream.ts";

/** As messages.ts: a content event after this much silence keeps Claude Code's watchdog calm. */
const CONTENT_KEEPALIVE_MS = 60_000;

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

const HINT_KEY = "hint:server-tools";

/**
 * The answer to a request with web server tools, run by the proxy; undefined when this request
 * is not one (or the provider has no search backend), and the caller goes on as usual.
 */
export function serverToolAnswer(
  req: Request,
  raw: unknown,
  request: MessagesRequest,
  ctx: RequestContext,
  target: AttemptTarget,
): Promise<Response> | undefined {
  const search = target.provider.search;
  if (search === undefined) {
    // As before: the tools are left out unread (a definition is only checked when it is run).
    const asked = request.tools?.filter((t) => serverToolKind(t.type) !== undefined) ?? [];
    if (asked.length > 0 && !ctx.warnedDropped.has(HINT_KEY)) {
      ctx.warnedDropped.add(HINT_KEY);
      ctx.log.info(
        "the client asked for web search, which is left out: set SEARCH_PROVIDER (brave, tavily " +
          "or searxng) with its key or URL to run it on any model (docs/web-search.md)",
        { tools: asked.map((t) => t.name).join(",") },
      );
    }
    return undefined;
  }
  let tools = serverToolsOf(raw);
  if (tools.length === 0) return undefined;
  // Without an address check there is no safe fetch: the tool stays left out.
  if (ctx.addressGuard === undefined) tools = tools.filter((t) => t.kind !== "web_fetch");
  if (tools.length === 0) return undefined;
  return run(req, restoreServerBlocks(raw, request), ctx, tools, { ...target, search });
}

async function run(
  req: Request,
  request: MessagesRequest,
  ctx: RequestContext,
  tools: ServerTool[],
  target: Target,
): Promise<Response> {
  const sessionId = req.headers.get("x-claude-code-session-id") ?? undefined;
  const session = new ServerToolSession(ctx, req.signal, request, tools, target, sessionId);
  const summary = ctx.summary;
  if (request.stream !== true) {
    const message = await serverToolMessage(session);
    summary.inputTokens = message.usage.input_tokens;
    summary.outputTokens = message.usage.output_tokens;
    return json(message);
  }
  // The first round is awaited here, so that its failure is an HTTP error, not a stream error.
  const sent = await session.send(session.roundRequest(0, request.messages), 0);
  const answer = await session.streamOrMessage(sent);
  const first = "stream" in answer ? answer.stream : sent;
  const converter = "stream" in answer ? first.exchange.stream() : new WholeMessage(answer.message);
  const marker = `ccp-server-tools-${ctx.newId()}`;
  const events = new LoopEvents(session, converter, marker);
  summary.deferred = true;
  const body = driveStream({
    body: loopBody(session, first, events, marker),
    converter: events,
    idleTimeoutMs: target.provider.streamIdleTimeoutMs,
    idleSetting: target.provider.settingNames?.streamIdleTimeout,
    pingIntervalMs: ctx.config.pingIntervalMs,
    keepAliveMs: CONTENT_KEEPALIVE_MS,
    // The joined body aborts each round's upstream itself: when it is done, and when the
    // driver cancels it (client gone, idle timeout).
    abortUpstream: () => {},
    redact: ctx.redact,
    open: ctx.openStreams,
    onEnd: (outcome) => {
      const usage = events.usageSoFar;
      summary.inputTokens = usage.input_tokens;
      summary.outputTokens = usage.output_tokens;
      const status = loggedStatus(outcome);
      logRequest(
        ctx.log,
        ctx,
        status,
        outcome.error ? { error: outcome.error.type, message: outcome.error.message } : {},
      );
    },
  });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
