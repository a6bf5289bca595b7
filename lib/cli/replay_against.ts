/**
 * `replay FILE --against MODEL`: the recorded client request sent to another model through the
 * configured upstream, and the recorded answer and the new one side by side.
 */
import { z } from "zod";
import type { Config } from "../ops/config.ts";
import { silentLogger } from "../ops/log.ts";
import { createHandler } from "../server/handler.ts";
import type { Router } from "../routing/router.ts";
import type { Fetch } from "../upstreams/transport.ts";
import { parseRecord, ReplayError } from "./replay.ts";
import { sideBySide } from "./side_by_side.ts";

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
  router?: Router,
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

  // With a routing file, MODEL may name any of its providers (`provider/model`).
  const handler = createHandler(config, {
    log: silentLogger,
    fetch,
    ...(router ? { router: { current: () => router } } : {}),
  });
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
