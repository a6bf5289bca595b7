/**
 * `replay FILE`: a RECORD_DIR file's upstream answer, run through today's converter, against
 * what the client got when it was recorded. Hermetic: nothing is sent anywhere and no setting
 * is read, the file holds all the conversion depends on. (`--against`: replay_against.ts.)
 */
import { statSync } from "node:fs";
import { type ProxyError, redactError, toProxyError } from "../anthropic/errors.ts";
import { makeRedactor } from "../ops/log.ts";
import { redactStrings } from "../server/exchange_recorder.ts";
import { MessagesRequest, type StreamEvent } from "../anthropic/schema.ts";
import { formatZodError } from "../anthropic/validation.ts";
import { JsonMemo } from "../common/json_text.ts";
import { type Config, ConfigError, configFromEnv } from "../ops/config.ts";
import { envProvider } from "../routing/env_provider.ts";
import { readMessageBody } from "../server/messages.ts";
import { RecordedError, RecordFile } from "../server/record_file.ts";
import { modelInfo } from "../upstreams/model_info.ts";
import type { Exchange } from "../upstreams/protocol.ts";
import type { Provider } from "../upstreams/provider.ts";
import { protocolFor } from "../upstreams/protocols.ts";

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
    throw new ReplayError(`not a recorded exchange: ${formatZodError(parsed.error, "")}`);
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
      `the recorded client request is not valid today: ${formatZodError(request.error, "")}`,
    );
  }
  // The two OpenAI protocols rebuild from the base URL and profile; a pass-through upstream's
  // answer is the client's already, with nothing to convert.
  const api = up.api ?? "chat";
  if (api !== "chat" && api !== "responses") {
    throw new ReplayError(
      `recorded from an upstream speaking "${api}", which replay cannot rebuild`,
    );
  }
  let config: Config;
  try {
    // The provider's profile and base URL decide how answers are read; no key is needed.
    config = configFromEnv({
      OPENAI_BASE_URL: up.base_url,
      PROVIDER: up.profile,
      OPENAI_API: api,
      OPENAI_API_KEY: "replay",
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new ReplayError(`the recorded provider cannot be rebuilt: ${err.message}`);
    }
    throw err;
  }
  // A file provider's errors name its own settings, as they did when recorded.
  const names = up.setting_names;
  const provider: Provider = names?.apiKey !== undefined && names.baseUrl !== undefined
    ? {
      ...envProvider(config),
      settingNames: { ...names, apiKey: names.apiKey, baseUrl: names.baseUrl },
    }
    : envProvider(config);
  try {
    return protocolFor(api).exchange({
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
  // Today's answer gets what the recorder did to the client's: the redactor's patterns (the
  // configured keys are [REDACTED] in the recorded upstream answer already). Where redaction
  // changed the answer, the proxy counted output tokens (when the upstream did not) from the
  // text before it, which no replay can see: that count is left out on both sides.
  const altered = JSON.stringify(answer).includes(REDACTED);
  const thenLine = (v: unknown) => canonical(altered ? withoutOutputCount(v) : v);
  const nowLine = (v: unknown) => thenLine(redactStrings(v, PATTERNS));
  if (answer.kind === "stream") {
    for (const e of client.events ?? []) then.push(thenLine(e));
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
    for (const e of events) now.push(nowLine(e));
    if (failed) now.push(errorLine(redactError(failed, PATTERNS)));
  } else {
    then.push(
      client.error ? errorLine(client.error) : thenLine(client.message ?? null),
    );
    try {
      if (answer.kind === "http_error") {
        throw exchange.httpError(answer.status, answer.body, new Headers(answer.headers));
      }
      now.push(nowLine(readMessageBody(answer.body, exchange)));
    } catch (err) {
      now.push(errorLine(redactError(toProxyError(err), PATTERNS)));
    }
  }
  const equal = then.length === now.length && then.every((line, i) => line === now[i]);
  return { kind: answer.kind, then, now, equal };
}

const REDACTED = "[REDACTED]";
/** The redactor's shape patterns alone: the configured keys are not known to a replay. */
const PATTERNS = makeRedactor([]);

/** `value` with every `usage.output_tokens` blanked. */
function withoutOutputCount(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutOutputCount);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === "usage" && v !== null && typeof v === "object" && "output_tokens" in v
      ? { ...v, output_tokens: "(counted before redaction)" }
      : withoutOutputCount(v);
  }
  return out;
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

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A file's text; a missing or unreadable one (or a directory) is a ReplayError. */
export async function readRecordText(
  file: string,
  read: (path: string) => Promise<string | undefined>,
): Promise<string> {
  let text: string | undefined;
  try {
    text = await read(file);
  } catch (err) {
    if (isDirectory(file)) throw new ReplayError("a directory: give its record files (DIR/*.json)");
    throw new ReplayError(`cannot read: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text === undefined) {
    throw new ReplayError(
      isDirectory(file) ? "a directory: give its record files (DIR/*.json)" : "not found",
    );
  }
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
