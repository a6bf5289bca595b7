/**
 * `replay FILE`: a RECORD_DIR file's upstream answer, run through today's converter, against
 * what the client got when it was recorded. Hermetic: nothing is sent anywhere and no setting
 * is read, the file holds all the conversion depends on. `--against MODEL` then sends the
 * recorded request to another model through the configured upstream, for a side-by-side look.
 */
import { z } from "zod";
import { type ProxyError, toProxyError } from "../anthropic/errors.ts";
import { MessagesRequest, type StreamEvent } from "../anthropic/schema.ts";
import { formatZodError } from "../anthropic/validation.ts";
import { JsonMemo } from "../common/json_text.ts";
import { type Config, ConfigError, configFromEnv } from "../ops/config.ts";
import { silentLogger } from "../ops/log.ts";
import { envProvider } from "../routing/env_provider.ts";
import { createHandler } from "../server/handler.ts";
import { readMessageBody } from "../server/messages.ts";
import { RecordedError, RecordFile } from "../server/record_file.ts";
import { modelInfo } from "../upstreams/model_info.ts";
import type { Exchange } from "../upstreams/protocol.ts";
import { protocolFor } from "../upstreams/protocols.ts";
import type { Fetch } from "../upstreams/transport.ts";
import { sideBySide } from "./side_by_side.ts";

/** A file that cannot be replayed: exit 2 with this message. */
export class ReplayError extends Error {
  override name = "ReplayError";
}

/** What a replay found. `then` and `now` are one canonical JSON line per event. */
export type ReplayResult = {
  kind: "stream" | "message" | "http_error";
  then: string[];
  now: string[];
  equal: boolean;
};

export function parseRecord(text: string): RecordFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ReplayError(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = RecordFile.safeParse(value);
  if (!parsed.success) {
    throw new ReplayError(`not a recorded exchange: ${formatZodError(parsed.error)}`);
  }
  return parsed.data;
}

/** The Exchange the proxy made for the recorded request, rebuilt from the file alone. */
function rebuildExchange(record: RecordFile): Exchange {
  const up = record.upstream_request;
  if (!up) {
    throw new ReplayError(
      "the exchange never reached the upstream (nothing to replay): " +
        (record.client_response.error?.message ?? "no upstream request recorded"),
    );
  }
  const request = MessagesRequest.safeParse(record.client_request);
  if (!request.success) {
    throw new ReplayError(
      `the recorded client request is not valid today: ${formatZodError(request.error)}`,
    );
  }
  let config: Config;
  try {
    // The provider's profile and base URL decide how answers are read; no key is needed.
    config = configFromEnv({
      OPENAI_BASE_URL: up.base_url,
      PROVIDER: up.profile,
      OPENAI_API_KEY: "replay",
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new ReplayError(`the recorded provider cannot be rebuilt: ${err.message}`);
    }
    throw err;
  }
  const provider = envProvider(config);
  try {
    return protocolFor(provider.api).exchange({
      request: request.data,
      provider,
      model: up.model,
      info: modelInfo(up.model, provider),
      apiKey: undefined,
      messageId: up.message_id,
      inputTokensEstimate: up.input_tokens_estimate,
      jsonMemo: new JsonMemo(),
    });
  } catch (err) {
    throw new ReplayError(
      `today's proxy refuses the recorded request: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
}

/** Runs the recorded answer through today's converter. Pure: no I/O. */
export function replayRecord(record: RecordFile): ReplayResult {
  const exchange = rebuildExchange(record);
  const answer = record.upstream_response;
  const client = record.client_response;
  if (!answer) {
    throw new ReplayError(
      "no upstream answer was recorded (the connection failed): " +
        (client.error?.message ?? "nothing to replay"),
    );
  }
  const then: string[] = [];
  const now: string[] = [];
  if (answer.kind === "stream") {
    for (const e of client.events ?? []) then.push(canonical(e));
    // An error that was the converter's is part of the answer; a cut connection's is not.
    if (answer.end === "converter_error" && client.error) then.push(errorLine(client.error));
    const converter = exchange.stream();
    const events: StreamEvent[] = [];
    let failed: ProxyError | undefined;
    try {
      events.push(...converter.start());
      for (const chunk of answer.chunks) {
        if ("keep_alive" in chunk) events.push(...converter.keepAlive());
        else events.push(...converter.push({ event: chunk.event, data: chunk.data }));
        // As the proxy does: [DONE] ends the answer, whatever follows it.
        if (converter.sawDone) break;
      }
      if (answer.end !== "cut") events.push(...converter.finish());
    } catch (err) {
      failed = toProxyError(err);
    }
    for (const e of events) now.push(canonical(e));
    if (failed) now.push(errorLine(failed));
  } else {
    then.push(
      client.error ? errorLine(client.error) : canonical(client.message ?? null),
    );
    try {
      if (answer.kind === "http_error") {
        throw exchange.httpError(answer.status, answer.body, new Headers(answer.headers));
      }
      now.push(canonical(readMessageBody(answer.body, exchange)));
    } catch (err) {
      now.push(errorLine(toProxyError(err)));
    }
  }
  const equal = then.length === now.length && then.every((line, i) => line === now[i]);
  return { kind: answer.kind, then, now, equal };
}

function errorLine(e: RecordedError | ProxyError): string {
  return canonical({ error: { status: e.status, type: e.type, message: e.message } });
}

/** JSON with sorted keys: the same value gives the same line whatever built it. */
export function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

const MAX_SHOWN = 20;
const MAX_LINE = 400;

/** A difference as lines: the part between the common start and the common end, - then + now. */
export function describeDifference(result: ReplayResult): string[] {
  const unit = result.kind === "stream" ? "event" : "answer";
  if (result.equal) {
    return [
      result.kind === "stream"
        ? `same: ${result.now.length} events, as the client got them`
        : "same: the answer the client got",
    ];
  }
  const { then, now } = result;
  let start = 0;
  while (start < then.length && start < now.length && then[start] === now[start]) start++;
  let end = 0;
  while (
    end < then.length - start && end < now.length - start &&
    then[then.length - 1 - end] === now[now.length - 1 - end]
  ) end++;
  const removed = then.slice(start, then.length - end);
  const added = now.slice(start, now.length - end);
  const cut = (line: string) => line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line;
  const shown = (lines: string[], sign: string) => [
    ...lines.slice(0, MAX_SHOWN).map((l) => `${sign} ${cut(l)}`),
    ...(lines.length > MAX_SHOWN ? [`${sign} … ${lines.length - MAX_SHOWN} more`] : []),
  ];
  return [
    `different: from ${unit} ${start + 1}, ${removed.length} then (-) against ${added.length} ` +
    `now (+)`,
    ...shown(removed, "-"),
    ...shown(added, "+"),
  ];
}

/**
 * `replay FILE...`: exit 0 when today's conversion gives what the client got for every file,
 * 1 when any differs, 2 when none differs but some could not be replayed (each said why).
 */
export async function replayFiles(
  files: readonly string[],
  read: (path: string) => Promise<string | undefined>,
  print: (line: string) => void,
  printError: (line: string) => void,
): Promise<number> {
  let same = 0;
  let different = 0;
  let failed = 0;
  for (const file of files) {
    try {
      const text = await readRecordText(file, read);
      if (replayFile(text, print) === 0) same++;
      else different++;
    } catch (err) {
      if (!(err instanceof ReplayError)) throw err;
      printError(`error: ${file}: ${err.message}`);
      failed++;
    }
  }
  if (files.length > 1) {
    print(`${files.length} files: ${same} same, ${different} different, ${failed} not replayed`);
  }
  return different > 0 ? 1 : failed > 0 ? 2 : 0;
}

/** A file's text; a missing or unreadable one is a ReplayError. */
export async function readRecordText(
  file: string,
  read: (path: string) => Promise<string | undefined>,
): Promise<string> {
  let text: string | undefined;
  try {
    text = await read(file);
  } catch (err) {
    throw new ReplayError(`cannot read: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text === undefined) throw new ReplayError("not found");
  return text;
}

/** One file's text: exit 0 when today's conversion gives what the client got, 1 when not. */
export function replayFile(text: string, print: (line: string) => void): number {
  const record = parseRecord(text);
  const result = replayRecord(record);
  const up = record.upstream_request;
  print(
    `replay ${record.request_id} (${record.time}): ${result.kind} from ` +
      `${up?.provider ?? "?"} ${up?.model ?? "?"}`,
  );
  for (const line of describeDifference(result)) print(line);
  return result.equal ? 0 : 1;
}

/** An answer as shown side by side: read loosely, from a file or from the proxy's answer. */
const ShownBlock = z.object({
  type: z.string(),
  text: z.string().optional(),
  thinking: z.string().optional(),
  name: z.string().optional(),
  input: z.unknown().optional(),
});
type ShownBlock = z.infer<typeof ShownBlock>;
const ShownMessage = z.object({
  content: z.array(ShownBlock),
  stop_reason: z.string().nullable().optional(),
  usage: z.object({ output_tokens: z.number() }).partial().optional(),
});
type ShownMessage = z.infer<typeof ShownMessage>;
const ShownEvent = z.object({
  type: z.string(),
  index: z.number().optional(),
  content_block: ShownBlock.optional(),
  delta: z.object({
    type: z.string().optional(),
    text: z.string().optional(),
    thinking: z.string().optional(),
    partial_json: z.string().optional(),
    stop_reason: z.string().nullable().optional(),
  }).optional(),
  usage: z.object({ output_tokens: z.number() }).partial().optional(),
});

/** The readable lines of an answer: text, thinking and tool calls. */
export function answerLines(message: ShownMessage): string[] {
  const lines: string[] = [];
  for (const block of message.content) {
    if (block.type === "text") lines.push(...(block.text ?? "").split("\n"));
    else if (block.type === "thinking") lines.push(`[thinking] ${block.thinking ?? ""}`);
    else if (block.type === "tool_use") {
      lines.push(`[tool_use ${block.name ?? ""}] ${JSON.stringify(block.input ?? {})}`);
    } else lines.push(`[${block.type}]`);
  }
  lines.push(
    `(stop: ${message.stop_reason ?? "none"}, output tokens: ${
      message.usage?.output_tokens ?? "?"
    })`,
  );
  return lines;
}

/** What a recorded stream's events add up to (what the client showed). */
export function messageFromEvents(events: readonly unknown[]): ShownMessage | undefined {
  let message: ShownMessage | undefined;
  const json: string[] = [];
  for (const raw of events) {
    const parsed = ShownEvent.safeParse(raw);
    if (!parsed.success) continue;
    const e = parsed.data;
    if (e.type === "message_start") message = { content: [] };
    if (!message) continue;
    const i = e.index ?? 0;
    if (e.type === "content_block_start" && e.content_block) {
      message.content[i] = { ...e.content_block };
      json[i] = "";
    } else if (e.type === "content_block_delta" && e.delta) {
      const block = message.content[i];
      if (!block) continue;
      if (e.delta.text !== undefined) block.text = (block.text ?? "") + e.delta.text;
      if (e.delta.thinking !== undefined) {
        block.thinking = (block.thinking ?? "") + e.delta.thinking;
      }
      if (e.delta.partial_json !== undefined) json[i] = (json[i] ?? "") + e.delta.partial_json;
    } else if (e.type === "content_block_stop") {
      const block = message.content[i];
      if (block?.type === "tool_use" && json[i]) {
        try {
          block.input = JSON.parse(json[i]!);
        } catch {
          block.input = { partial_json: json[i] };
        }
      }
    } else if (e.type === "message_delta") {
      message.stop_reason = e.delta?.stop_reason;
      message.usage = e.usage;
    }
  }
  if (message) message.content = message.content.filter((b) => b !== undefined);
  return message;
}

function shownLines(value: unknown): string[] {
  const parsed = ShownMessage.safeParse(value);
  return parsed.success ? answerLines(parsed.data) : [`(an answer of an unknown shape)`];
}

/**
 * `replay FILE --against MODEL`: the recorded request sent to MODEL (through the configured
 * upstream, in process, like doctor), both answers side by side. Exit 1 when the new one failed.
 */
export async function replayAgainst(
  text: string,
  against: string,
  config: Config,
  fetch: Fetch,
  print: (line: string) => void,
  width = 120,
): Promise<number> {
  const record = parseRecord(text);
  const request = record.client_request;
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new ReplayError("the recorded client request is not a JSON object");
  }
  const client = record.client_response;
  const streamed = client.message === undefined
    ? messageFromEvents(client.events ?? [])
    : undefined;
  const thenLines = client.message !== undefined
    ? shownLines(client.message)
    : streamed
    ? answerLines(streamed)
    : ["(no answer recorded)"];
  if (client.error) {
    thenLines.push(`error ${client.error.status} ${client.error.type}: ${client.error.message}`);
  }

  const handler = createHandler(config, { log: silentLogger, fetch });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
  };
  if (config.anthropicApiKey) headers["x-api-key"] = config.anthropicApiKey;
  const res = await handler(
    new Request("http://127.0.0.1/v1/messages", {
      method: "POST",
      headers,
      body: JSON.stringify({ ...request, model: against, stream: false }),
    }),
  );
  const body: unknown = await res.json().catch(() => undefined);
  let nowLines: string[];
  if (res.ok) nowLines = shownLines(body);
  else {
    const error = ErrorAnswer.safeParse(body);
    nowLines = [
      error.success
        ? `error ${res.status} ${error.data.error.type}: ${error.data.error.message}`
        : `error ${res.status}`,
    ];
  }
  const up = record.upstream_request;
  const left = `then: ${up ? `${up.provider} ${up.model}` : "?"}`;
  const right = `now: ${against}`;
  for (const line of sideBySide(left, thenLines, right, nowLines, width)) print(line);
  return res.ok ? 0 : 1;
}

const ErrorAnswer = z.object({ error: z.object({ type: z.string(), message: z.string() }) });
