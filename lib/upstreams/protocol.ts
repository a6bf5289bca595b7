/**
 * The one interface between the handler and an upstream protocol. A protocol turns a client
 * request into an Exchange: the HTTP request to send and the conversions of whatever comes back.
 * The handler sends it through the transport and never looks inside; each protocol folder
 * (chat/, and the others beside it) has the same parts behind this interface.
 */
import type { ProxyError } from "../anthropic/errors.ts";
import type { MessageResponse, MessagesRequest, StreamEvent, Usage } from "../anthropic/schema.ts";
import type { JsonMemo } from "../common/json_text.ts";
import type { ModelInfo } from "./model_info.ts";
import type { Provider, UpstreamApi } from "./provider.ts";
import type { SseMessage } from "./sse_decode.ts";

/** Everything a protocol needs to convert one request for one upstream model. */
export type ExchangeInput = {
  request: MessagesRequest;
  provider: Provider;
  /** The upstream's model name. */
  model: string;
  info: ModelInfo;
  apiKey: string | undefined;
  /** The id the client's message gets. */
  messageId: string;
  /** The cheap input-token estimate: message_start's usage, and the size an overflow reports. */
  inputTokensEstimate: number;
  /** Serialized history and tools kept across turns (see common/json_text.ts). */
  jsonMemo: JsonMemo;
  /** Claude Code's session id (`x-claude-code-session-id`), a prompt cache key upstream. */
  sessionId?: string | undefined;
  /** The client's body as received, for a protocol that forwards it (fields the schema drops kept). */
  clientBody?: unknown;
  /** The client's request headers (a pass-through protocol forwards `anthropic-beta`). */
  clientHeaders?: Headers;
};

/**
 * The upstream's stream → the client's events. Throws a ProxyError for a stream that cannot be
 * completed honestly; the caller ends the client's stream with it as `event: error`.
 */
export interface EventConverter {
  /** The first events, sent as soon as the upstream answered 2xx (message_start). */
  start(): StreamEvent[];
  push(message: SseMessage): StreamEvent[];
  /** The upstream's body ended (or said it is done): close what is open, message_stop. */
  finish(): StreamEvent[];
  /** Events that keep a silent stream alive for clients that do not count pings. */
  keepAlive(): StreamEvent[];
  /** The upstream said the answer is complete, though its connection may stay open. */
  readonly sawDone: boolean;
  /** Usage as far as the stream got: the request log's figures for a stream cut short. */
  readonly usageSoFar: Usage;
  /** Upstream event types the converter did not know and skipped, for a debug note. */
  readonly ignoredEvents?: ReadonlySet<string>;
}

/** One converted request: what to send, and how to read each kind of answer. */
export type Exchange = {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Content the upstream cannot take that was left out (block and tool types), for the log. */
  dropped: readonly string[];
  /** An HTTP error answer (status ≥ 300) → the client's error. */
  httpError(status: number, body: string, headers: Headers): ProxyError;
  /** A whole 2xx answer, parsed JSON → the client's message. Throws a ProxyError. */
  message(json: unknown): MessageResponse;
  /** A converter for a streamed 2xx answer. */
  stream(): EventConverter;
  /**
   * After an HTTP error answer: the same request without what the upstream refused to read, to
   * send instead (before anything reached the client), and why; undefined when nothing helps.
   */
  resendAfter?(status: number, body: string): { exchange: Exchange; reason: string } | undefined;
  /**
   * A whole 2xx answer passed on as the client's answer (a protocol that speaks the client's
   * API): its JSON text and usage. Throws a ProxyError. Without it, `message` converts.
   */
  passThrough?(text: string): { body: string; usage: Usage };
};

/** Token counting at the upstream, for a protocol whose API has it. */
export type CountTokensCall = {
  url: string;
  headers: Record<string, string>;
  body: string;
  httpError(status: number, body: string, headers: Headers): ProxyError;
  /** The upstream's answer → the client's answer (JSON text). Throws a ProxyError. */
  read(json: unknown): string;
};

/** A model the upstream lists. */
export type ListedModel = { id: string; created: number | undefined };

export type Protocol = {
  readonly api: UpstreamApi;
  /** Pure: no I/O. Throws a ProxyError (400) for a request this upstream cannot be sent. */
  exchange(input: ExchangeInput): Exchange;
  /** How to ask the upstream for its models, and how to read the answer. */
  modelList(provider: Provider, apiKey: string | undefined): {
    url: string;
    headers: Record<string, string>;
    read(json: unknown): ListedModel[];
  };
  /** Count tokens at the upstream instead of locally (an API that has such an endpoint). */
  countTokens?(input: ExchangeInput): CountTokensCall;
};
