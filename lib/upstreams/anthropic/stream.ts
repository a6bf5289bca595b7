/**
 * An Anthropic-speaking upstream's stream → the client's stream: every event passed on as it
 * came, except `message_start`, whose model becomes the name the client asked for. Only the
 * events that carry usage are parsed. https://docs.anthropic.com/en/api/messages-streaming
 */
import { ProxyError } from "../../anthropic/errors.ts";
import type { StreamEvent, Usage } from "../../anthropic/schema.ts";
import type { EventConverter } from "../protocol.ts";
import type { SseMessage } from "../sse_decode.ts";
import { anthropicStreamError } from "./errors.ts";

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value))
    : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

export class PassThroughStream implements EventConverter {
  #model: string;
  #usage: Usage;
  #done = false;
  #started = false;

  constructor(clientModel: string, inputTokensEstimate: number) {
    this.#model = clientModel;
    this.#usage = { input_tokens: inputTokensEstimate, output_tokens: 0 };
  }

  get sawDone(): boolean {
    return this.#done;
  }

  get usageSoFar(): Usage {
    return this.#usage;
  }

  start(): StreamEvent[] {
    return [];
  }

  push(message: SseMessage): StreamEvent[] {
    const event = message.event ?? "message";
    if (event === "error") throw anthropicStreamError(message.data);
    if (event === "message_start") return [this.#start(message.data)];
    if (event === "message_delta") this.#delta(message.data);
    if (event === "message_stop") this.#done = true;
    return [{ type: "raw", event, data: message.data }];
  }

  finish(): StreamEvent[] {
    if (!this.#done) {
      throw new ProxyError(
        529,
        "overloaded_error",
        this.#started
          ? "upstream stream ended before message_stop"
          : "upstream stream ended before message_start",
      );
    }
    return [];
  }

  keepAlive(): StreamEvent[] {
    // The upstream's own pings are passed on; there is no block of ours to extend.
    return [];
  }

  #start(data: string): StreamEvent {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new ProxyError(502, "api_error", "upstream sent a message_start that is not JSON");
    }
    const event = record(json);
    const message = record(event?.message);
    if (!event || !message) {
      throw new ProxyError(502, "api_error", "upstream sent a message_start without a message");
    }
    this.#started = true;
    this.#readUsage(message.usage);
    return {
      type: "raw",
      event: "message_start",
      data: JSON.stringify({ ...event, message: { ...message, model: this.#model } }),
    };
  }

  #delta(data: string): void {
    try {
      this.#readUsage(record(JSON.parse(data))?.usage);
    } catch {
      // Passed on as it came; the usage figures stay what they were.
    }
  }

  #readUsage(value: unknown): void {
    const usage = record(value);
    if (!usage) return;
    const input = count(usage.input_tokens);
    const output = count(usage.output_tokens);
    const read = count(usage.cache_read_input_tokens);
    const created = count(usage.cache_creation_input_tokens);
    this.#usage = {
      ...this.#usage,
      ...(input !== undefined ? { input_tokens: input } : {}),
      ...(output !== undefined ? { output_tokens: output } : {}),
      ...(read !== undefined ? { cache_read_input_tokens: read } : {}),
      ...(created !== undefined ? { cache_creation_input_tokens: created } : {}),
    };
  }
}
