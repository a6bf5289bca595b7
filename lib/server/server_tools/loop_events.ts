/**
 * The client's events over every round of a server tool loop: one message_start; block indexes
 * that go on across rounds; the model's calls of a server tool as `server_tool_use` blocks (their
 * input streams as input_json_delta); the results as whole blocks in their content_block_start;
 * citations at the end of the model's text blocks; one final message_delta with summed usage.
 * It also keeps what each round said, for the follow-up request.
 */
import type {
  MessageResponse,
  ResponseBlock,
  StopReason,
  StreamEvent,
  Usage,
} from "../../anthropic/schema.ts";
import { messageEvents } from "../../anthropic/message_events.ts";
import type { EventConverter } from "../../upstreams/protocol.ts";
import type { SseMessage } from "../../upstreams/sse_decode.ts";
import { type ModelCall, type ServerToolSession, UsageSum } from "./session.ts";

/** A whole message (an upstream that ignored `stream: true`) as a converter of no input. */
export class WholeMessage implements EventConverter {
  readonly sawDone = true;
  #events: StreamEvent[];
  #message: MessageResponse;
  constructor(message: MessageResponse) {
    this.#message = message;
    this.#events = messageEvents(message);
  }
  start(): StreamEvent[] {
    return this.#events.slice(0, 1);
  }
  push(): StreamEvent[] {
    return [];
  }
  finish(): StreamEvent[] {
    return this.#events.slice(1);
  }
  keepAlive(): StreamEvent[] {
    return [];
  }
  get usageSoFar(): Usage {
    return this.#message.usage;
  }
}

type PendingCall = ModelCall & { json: string };

/** What a finished round left: its blocks for the follow-up, its calls, how it stopped. */
export type RoundEnd = {
  blocks: ResponseBlock[];
  calls: ModelCall[];
  clientCall: boolean;
};

type OpenBlock =
  | { kind: "text"; text: string }
  | { kind: "thinking"; thinking: string; signature: string }
  | { kind: "call"; call: PendingCall }
  | { kind: "other" };

/** The events of every round → the one client stream. */
export class LoopEvents implements EventConverter {
  readonly sawDone = false;
  readonly #session: ServerToolSession;
  readonly #marker: string;
  #inner: EventConverter;
  #roundOpen = true;
  #queue: StreamEvent[] = [];
  #nextIndex = 0;
  #blocks = new Map<number, { index: number; open: OpenBlock }>();
  #roundBlocks: ResponseBlock[] = [];
  #calls: PendingCall[] = [];
  #clientCall = false;
  #roundUsage: Usage | undefined;
  #usage = new UsageSum();
  #stop: { reason: StopReason | null; sequence: string | null } = { reason: null, sequence: null };

  constructor(session: ServerToolSession, first: EventConverter, marker: string) {
    this.#session = session;
    this.#inner = first;
    this.#marker = marker;
  }

  start(): StreamEvent[] {
    return this.#inner.start().filter((e) => e.type === "message_start");
  }

  push(message: SseMessage): StreamEvent[] {
    if (message.event === this.#marker) {
      const out = this.#queue;
      this.#queue = [];
      return out;
    }
    if (!this.#roundOpen) return [];
    return this.#translate(this.#inner.push(message));
  }

  /** The current round's upstream said it is done. */
  get roundDone(): boolean {
    return this.#inner.sawDone;
  }

  /** Closes the current round (its events are queued); throws if it was cut short. */
  endRound(): RoundEnd {
    this.#queue.push(...this.#translate(this.#inner.finish()));
    this.#roundOpen = false;
    if (this.#roundUsage) this.#usage.add(this.#roundUsage);
    this.#roundUsage = undefined;
    const calls: ModelCall[] = [];
    for (const call of this.#calls) {
      let input: unknown;
      try {
        input = call.json.trim() === "" ? {} : JSON.parse(call.json);
      } catch {
        input = undefined;
      }
      calls.push({ upstreamId: call.upstreamId, clientId: call.clientId, tool: call.tool, input });
    }
    return { blocks: this.#roundBlocks, calls, clientCall: this.#clientCall };
  }

  /** Result blocks of the calls, queued for the next marker. */
  queueBlocks(blocks: readonly ResponseBlock[]): void {
    for (const block of blocks) {
      if (block.type !== "web_search_tool_result" && block.type !== "web_fetch_tool_result") {
        continue;
      }
      const index = this.#nextIndex++;
      this.#queue.push({ type: "content_block_start", index, content_block: block });
      this.#queue.push({ type: "content_block_stop", index });
    }
  }

  beginRound(converter: EventConverter): void {
    this.#inner = converter;
    this.#roundOpen = true;
    this.#blocks.clear();
    this.#roundBlocks = [];
    this.#calls = [];
    this.#clientCall = false;
  }

  /** How the message ends, when the loop decides it rather than the last round. */
  setStop(reason: StopReason): void {
    this.#stop = { reason, sequence: null };
  }

  finish(): StreamEvent[] {
    return [
      {
        type: "message_delta",
        delta: { stop_reason: this.#stop.reason, stop_sequence: this.#stop.sequence },
        usage: this.#usage.usage(this.#session.serverToolUse()),
      },
      { type: "message_stop" },
    ];
  }

  keepAlive(): StreamEvent[] {
    return this.#roundOpen ? this.#translate(this.#inner.keepAlive()) : [];
  }

  get usageSoFar(): Usage {
    return this.#usage.usage(
      this.#session.serverToolUse(),
      this.#roundOpen ? this.#inner.usageSoFar : undefined,
    );
  }

  #translate(events: readonly StreamEvent[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const event of events) {
      switch (event.type) {
        case "message_start":
          break;
        case "message_delta":
          this.#roundUsage = event.usage;
          this.#stop = { reason: event.delta.stop_reason, sequence: event.delta.stop_sequence };
          break;
        case "message_stop":
          break;
        case "content_block_start": {
          const index = this.#nextIndex++;
          const block = event.content_block;
          const tool = block.type === "tool_use" ? this.#session.toolNamed(block.name) : undefined;
          if (block.type === "tool_use" && tool) {
            const call: PendingCall = {
              upstreamId: block.id,
              clientId: this.#session.newClientId(),
              tool,
              input: undefined,
              json: "",
            };
            this.#calls.push(call);
            this.#blocks.set(event.index, { index, open: { kind: "call", call } });
            out.push({
              type: "content_block_start",
              index,
              content_block: {
                type: "server_tool_use",
                id: call.clientId,
                name: tool.name,
                input: {},
              },
            });
            break;
          }
          if (block.type === "tool_use") this.#clientCall = true;
          const open: OpenBlock = block.type === "text"
            ? { kind: "text", text: "" }
            : block.type === "thinking"
            ? { kind: "thinking", thinking: "", signature: "" }
            : { kind: "other" };
          this.#blocks.set(event.index, { index, open });
          out.push({ ...event, index });
          break;
        }
        case "content_block_delta": {
          const entry = this.#blocks.get(event.index);
          if (!entry) break;
          const { open } = entry;
          const d = event.delta;
          if (open.kind === "call" && d.type === "input_json_delta") {
            open.call.json += d.partial_json;
          } else if (open.kind === "text" && d.type === "text_delta") open.text += d.text;
          else if (open.kind === "thinking" && d.type === "thinking_delta") {
            open.thinking += d.thinking;
          } else if (open.kind === "thinking" && d.type === "signature_delta") {
            open.signature += d.signature;
          }
          out.push({ ...event, index: entry.index });
          break;
        }
        case "content_block_stop": {
          const entry = this.#blocks.get(event.index);
          if (!entry) break;
          const { open } = entry;
          if (open.kind === "text") {
            this.#roundBlocks.push({ type: "text", text: open.text });
            for (const citation of this.#session.citations(open.text)) {
              out.push({
                type: "content_block_delta",
                index: entry.index,
                delta: { type: "citations_delta", citation },
              });
            }
          }
          if (open.kind === "thinking") {
            this.#roundBlocks.push({
              type: "thinking",
              thinking: open.thinking,
              signature: open.signature,
            });
          }
          out.push({ type: "content_block_stop", index: entry.index });
          break;
        }
        default:
          out.push(event);
      }
    }
    return out;
  }
}
