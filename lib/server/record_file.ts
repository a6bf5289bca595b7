/**
 * The file RECORD_DIR holds for one exchange: the client's request, the request sent upstream,
 * the upstream's answer (a stream's SSE messages with their times), and what the client got.
 * Self-contained, so that `replay` and a test can run it through today's converter with no
 * configuration, and a file from a bug report can become a test fixture unchanged.
 */
import { z } from "zod";

export const RECORD_FORMAT = "claude-code-proxy/record";
export const RECORD_VERSION = 1;

/**
 * One step of a recorded stream: an SSE message the converter got, or a keep-alive the proxy
 * sent while the upstream was silent (it changes the converter's state, so replay repeats it).
 * `t`: milliseconds since the proxy received the client's request.
 */
export const RecordedChunk = z.union([
  z.object({ t: z.number(), event: z.string().optional(), data: z.string() }),
  z.object({ t: z.number(), keep_alive: z.literal(true) }),
]);
export type RecordedChunk = z.infer<typeof RecordedChunk>;

export const RecordedError = z.object({
  status: z.number(),
  type: z.string(),
  message: z.string(),
});
export type RecordedError = z.infer<typeof RecordedError>;

const UpstreamRequest = z.object({
  provider: z.string(),
  /** The upstream protocol the answer is read with (absent: chat). */
  api: z.string().optional(),
  /** The provider profile (openai, azure, openrouter …): how its answers are read. */
  profile: z.string(),
  base_url: z.string(),
  /**
   * A config file provider's setting names (`providers.NAME.api_key` …), which its error hints
   * name; absent for the provider of the variables.
   */
  setting_names: z.record(z.string(), z.string()).optional(),
  model: z.string(),
  /** What the conversion of the answer depends on besides the request. */
  message_id: z.string(),
  input_tokens_estimate: z.number(),
  url: z.string(),
  headers: z.record(z.string(), z.string()),
  /** The JSON body sent, parsed. */
  body: z.unknown(),
});

const UpstreamResponse = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("stream"),
    status: z.number(),
    chunks: z.array(RecordedChunk),
    /**
     * complete: the body ended or said [DONE]; converter_error: the converter refused it;
     * cut: the connection failed, went idle, or the client left.
     */
    end: z.enum(["complete", "converter_error", "cut"]),
  }),
  z.object({
    kind: z.literal("message"),
    status: z.number(),
    /** The body as received (text, so that a body that is not JSON is kept as it was). */
    body: z.string(),
  }),
  z.object({
    kind: z.literal("http_error"),
    status: z.number(),
    headers: z.record(z.string(), z.string()),
    body: z.string(),
  }),
]);

const ClientResponse = z.object({
  status: z.number(),
  stream: z.boolean(),
  /** A stream's events as sent (pings left out), the closing `error` event excluded. */
  events: z.array(z.unknown()).optional(),
  /** A whole message (also when a stream was asked for and the upstream did not stream). */
  message: z.unknown().optional(),
  error: RecordedError.optional(),
});

export const RecordFile = z.object({
  format: z.literal(RECORD_FORMAT),
  version: z.literal(RECORD_VERSION),
  request_id: z.string(),
  time: z.string(),
  duration_ms: z.number(),
  /** The client's headers, credentials as [REDACTED]. */
  client_headers: z.record(z.string(), z.string()).optional(),
  client_request: z.unknown(),
  upstream_request: UpstreamRequest.optional(),
  upstream_response: UpstreamResponse.optional(),
  client_response: ClientResponse,
});
export type RecordFile = z.infer<typeof RecordFile>;
export type UpstreamRequestRecord = z.infer<typeof UpstreamRequest>;
export type UpstreamResponseRecord = z.infer<typeof UpstreamResponse>;
export type ClientResponseRecord = z.infer<typeof ClientResponse>;
