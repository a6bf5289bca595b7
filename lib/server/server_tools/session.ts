/**
 * One client request whose server tools (web_search, web_fetch) the proxy runs: how it sends
 * each upstream round through the request's protocol, and how it runs the calls the model made.
 * The streamed and the whole-message loops (stream.ts, message.ts) share it.
 */
import { ProxyError } from "../../anthropic/errors.ts";
import type {
  MessageResponse,
  MessagesRequest,
  ServerToolResultBlock,
  Usage,
  WebSearchCitation,
} from "../../anthropic/schema.ts";
import { debugBody } from "../../ops/debug_body.ts";
import { estimateInputTokens } from "../../tokens/count.ts";
import type { ModelInfo } from "../../upstreams/model_info.ts";
import { protocolFor } from "../../upstreams/protocols.ts";
import type { Provider } from "../../upstreams/provider.ts";
import { callUpstream, readAnswer } from "../../upstreams/transport.ts";
import type { SearchSettings } from "../../ops/search_settings.ts";
import { type AnsweredCall, offeredRequest } from "../../websearch/followup.ts";
import {
  modelText,
  resultBlock,
  type SearchHit,
  type ToolOutcome,
} from "../../websearch/results.ts";
import { runServerCall, UseCounter } from "../../websearch/run_call.ts";
import type { ServerTool } from "../../websearch/tools.ts";
import { citationsFor } from "../../websearch/citations.ts";
import { KnownUrls } from "../../websearch/known_urls.ts";
import { sendWithApiChoice, type Sent } from "../api_fallback.ts";
import { answersWithEvents, eventsAnswer, looksLikeEvents } from "../../upstreams/event_stream.ts";
import type { RequestContext } from "../context.ts";

/**
 * Upstream requests per client request, follow-ups included. The last one is sent without the
 * server tools, so the model answers with what it found.
 */
export const MAX_ROUNDS = 8;

/** Searches or fetches of one round that run at the same time. */
const PARALLEL_CALLS = 4;

/** The chain entry the rounds go to, as the caller's attempt picked it. */
export type AttemptTarget = {
  provider: Provider;
  model: string;
  info: ModelInfo;
  /** The key of the provider's pool picked for this attempt. */
  apiKey: string | undefined;
  /** A failure of the first round the caller passes on (another key, the next chain entry). */
  firstRoundHandedOver: (error: ProxyError, answered: boolean) => boolean;
  /** The upstream answered (with anything, errors included): not a failed connection. */
  onAnswered?: () => void;
};

export type Target = AttemptTarget & { search: SearchSettings };

/** One upstream round: the request as its protocol sent it, and the answer. */
export type Round = Sent;

/** A server tool call of the model, as the converter reported it. */
export type ModelCall = { upstreamId: string; clientId: string; tool: ServerTool; input: unknown };

export type RanCall = AnsweredCall & { block: ServerToolResultBlock; outcome: ToolOutcome };

export class ServerToolSession {
  readonly messageId: string;
  readonly #uses = new UseCounter();
  readonly #byName: ReadonlyMap<string, ServerTool>;
  #searches = 0;
  #fetches = 0;
  #hits: SearchHit[] = [];
  readonly #urls = new KnownUrls();

  constructor(
    readonly ctx: RequestContext,
    readonly clientSignal: AbortSignal,
    readonly request: MessagesRequest,
    readonly tools: readonly ServerTool[],
    readonly target: Target,
    /** Claude Code's session, sent on as the upstream's prompt cache key. */
    readonly sessionId?: string,
  ) {
    this.messageId = `msg_${ctx.newId()}`;
    this.#byName = new Map(tools.map((t) => [t.name, t]));
    for (const part of trustedParts(request.messages)) this.#urls.addText(JSON.stringify(part));
    if (request.system !== undefined) this.#urls.addText(JSON.stringify(request.system));
  }

  /** The server tool a function call of the model names, if it is one. */
  toolNamed(name: string): ServerTool | undefined {
    return this.#byName.get(name);
  }

  newClientId(): string {
    return `srvtoolu_${this.ctx.newId()}`;
  }

  /** The request of round `round` (0-based) with the messages so far. */
  roundRequest(round: number, messages: MessagesRequest["messages"]): MessagesRequest {
    const offer = round < MAX_ROUNDS - 1;
    return { ...offeredRequest(this.request, this.tools, offer, round > 0), messages };
  }

  isLastRound(round: number): boolean {
    return round >= MAX_ROUNDS - 1;
  }

  /**
   * Sends one round upstream, with the protocol the provider and model call for and the same
   * resends as a request without server tools (an `auto` model that wants the Responses API, a
   * request the upstream takes without the part it refused); an HTTP error or a failed
   * connection throws its ProxyError.
   */
  async send(request: MessagesRequest, round: number): Promise<Round> {
    const { ctx, target } = this;
    const { provider, model, info } = target;
    const stream = request.stream === true;
    const inputTokensEstimate = estimateInputTokens(request, model);
    const sent = await sendWithApiChoice({
      provider,
      model,
      remembered: ctx.responsesModels,
      log: ctx.log,
      exchangeFor: (api) =>
        protocolFor(api).exchange({
          request,
          provider,
          model,
          info,
          apiKey: target.apiKey,
          messageId: this.messageId,
          inputTokensEstimate,
          jsonMemo: ctx.jsonMemo,
          sessionId: this.sessionId,
        }),
      onExchange: (exchange) => {
        if (!ctx.log.enabled("debug")) return;
        ctx.log.debug("upstream request", {
          request_id: ctx.requestId,
          server_tool_round: round,
          body: debugBody(exchange.body, ctx.redact),
        });
      },
      send: (exchange) => {
        ctx.summary.upstreamCalled = true;
        return callUpstream({
          url: exchange.url,
          headers: exchange.headers,
          body: exchange.body,
          clientSignal: this.clientSignal,
          firstByteTimeoutMs: stream ? provider.firstByteTimeoutMs : undefined,
          firstByteSetting: provider.settingNames?.firstByteTimeout,
          totalTimeoutMs: provider.requestTimeoutMs,
          totalSetting: provider.settingNames?.requestTimeout,
          maxRetries: provider.maxRetries,
          handedOver: round === 0 ? target.firstRoundHandedOver : undefined,
          retryMaxDelayMs: provider.retryMaxDelayMs,
          httpError: exchange.httpError,
          onHeaders: () => {
            ctx.summary.ttfbMs ??= Date.now() - ctx.started;
            target.onAnswered?.();
          },
        }, { fetch: ctx.fetch, log: ctx.log, open: ctx.openStreams });
      },
    });
    return { exchange: sent.exchange, upstream: sent.upstream };
  }

  /** A round's whole (not streamed) answer as a message. */
  async readMessage(round: Round): Promise<MessageResponse> {
    const answer = await this.#read(round);
    if ("message" in answer) return answer.message;
    throw new ProxyError(502, "api_error", "upstream answered 200 with a body that is not JSON");
  }

  /**
   * A streamed round's answer: the round itself when it streams, also when an upstream labels
   * its event stream as something else (read whole, then streamed on), else its whole message.
   */
  async streamOrMessage(round: Round): Promise<{ stream: Round } | { message: MessageResponse }> {
    const response = round.upstream.response;
    if (answersWithEvents(response) && response.body) return { stream: round };
    const answer = await this.#read(round);
    if ("message" in answer) return answer;
    return { stream: { ...round, upstream: eventsAnswer(round.upstream, answer.text) } };
  }

  /** The round's body: its message when it is JSON, its text when it is an event stream. */
  async #read(round: Round): Promise<{ message: MessageResponse } | { text: string }> {
    const { upstream, exchange } = round;
    const text = await readAnswer(upstream);
    if (looksLikeEvents(text)) return { text };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ProxyError(502, "api_error", "upstream answered 200 with a body that is not JSON");
    }
    return { message: exchange.message(json) };
  }

  /**
   * Runs the calls of one round, a few at a time in call order; each gives a result, failures
   * included.
   */
  async run(calls: readonly ModelCall[]): Promise<RanCall[]> {
    const out: RanCall[] = [];
    for (let i = 0; i < calls.length; i += PARALLEL_CALLS) {
      out.push(
        ...await Promise.all(calls.slice(i, i + PARALLEL_CALLS).map((c) => this.#runOne(c))),
      );
    }
    return out;
  }

  async #runOne(call: ModelCall): Promise<RanCall> {
    const { ctx, target } = this;
    const outcome = await runServerCall(call.tool, call.input, this.#uses, {
      settings: target.search,
      fetch: ctx.fetch,
      guard: ctx.addressGuard,
      urlKnown: (url) => this.#urls.has(url),
      signal: this.clientSignal,
      now: () => new Date(),
      onFailure: (tool, detail) =>
        ctx.log.warn(`${tool} failed`, { request_id: ctx.requestId, detail: ctx.redact(detail) }),
    });
    // Counted as Anthropic bills them: the searches and fetches that gave a result.
    if (!("error" in outcome)) {
      if (outcome.kind === "web_search") {
        this.#searches++;
        this.#hits.push(...outcome.hits);
        for (const hit of outcome.hits) this.#urls.add(hit.url);
      } else {
        this.#fetches++;
        this.#urls.addText(outcome.page.text);
      }
    }
    if (ctx.log.enabled("debug")) {
      ctx.log.debug("server tool", {
        request_id: ctx.requestId,
        tool: call.tool.kind,
        backend: target.search.backend,
        outcome: "error" in outcome
          ? outcome.error
          : outcome.kind === "web_search"
          ? `${outcome.hits.length} results`
          : `${outcome.page.text.length} characters`,
      });
    }
    const { text, isError } = modelText(outcome);
    return {
      upstreamId: call.upstreamId,
      name: call.tool.name,
      input: call.input,
      text,
      isError,
      block: resultBlock(call.clientId, outcome),
      outcome,
    };
  }

  /** The citations of a text block of the model, from the results it has seen so far. */
  citations(text: string): WebSearchCitation[] {
    return this.#hits.length === 0 ? [] : citationsFor(text, this.#hits);
  }

  /** `usage.server_tool_use`: the searches and fetches that gave a result. */
  serverToolUse(): NonNullable<Usage["server_tool_use"]> {
    return {
      web_search_requests: this.#searches,
      ...(this.#fetches > 0 ? { web_fetch_requests: this.#fetches } : {}),
    };
  }
}

/** Usage summed over the rounds of one client message. */
export class UsageSum {
  input = 0;
  output = 0;
  cacheRead: number | undefined;
  cacheCreation: number | undefined;

  add(u: Usage): void {
    this.input += u.input_tokens;
    this.output += u.output_tokens;
    if (u.cache_read_input_tokens !== undefined) {
      this.cacheRead = (this.cacheRead ?? 0) + u.cache_read_input_tokens;
    }
    if (u.cache_creation_input_tokens !== undefined) {
      this.cacheCreation = (this.cacheCreation ?? 0) + u.cache_creation_input_tokens;
    }
  }

  usage(serverToolUse: NonNullable<Usage["server_tool_use"]>, current?: Usage): Usage {
    const sum = new UsageSum();
    sum.add(this.total());
    if (current) sum.add(current);
    return { ...sum.total(), server_tool_use: serverToolUse };
  }

  total(): Usage {
    return {
      input_tokens: this.input,
      output_tokens: this.output,
      ...(this.cacheRead !== undefined ? { cache_read_input_tokens: this.cacheRead } : {}),
      ...(this.cacheCreation !== undefined
        ? { cache_creation_input_tokens: this.cacheCreation }
        : {}),
    };
  }
}

/**
 * What of the conversation may name a URL to fetch: the user's turns, with their tool results,
 * and with the results of earlier searches and fetches (carried there by restoreServerBlocks).
 * Not the model's own words or tool inputs: a URL it wrote in an earlier turn is still one it
 * made up.
 */
function trustedParts(messages: MessagesRequest["messages"]): unknown[] {
  return messages.filter((m) => m.role === "user").map((m) => m.content);
}
