/**
 * Responses API stream events → the Anthropic stream event grammar
 * (https://docs.anthropic.com/en/api/messages-streaming).
 *
 * Upstream grammar (https://platform.openai.com/docs/api-reference/responses-streaming):
 * `response.created`, then per output item `response.output_item.added` … its deltas …
 * `response.output_item.done`, then `response.completed` | `response.incomplete` |
 * `response.failed`; an `error` event may come at any time. Deltas used here:
 * `response.output_text.delta`, `response.refusal.delta`, `response.reasoning_summary_text.delta`
 * (and `response.reasoning_text.delta` from servers that stream raw reasoning),
 * `response.function_call_arguments.delta` / `.done`.
 *
 * OpenAI sends items one after another, so at most one block is open; a server that interleaves
 * parallel calls has each later call wait for the open one (`#waiting`). Each event is converted
 * as it arrives; unknown event types are ignored and named in `ignoredEvents`.
 */
import { ProxyError } from "../../anthropic/errors.ts";
import type { StreamEvent, Usage } from "../../anthropic/schema.ts";
import { encodeClientToolId } from "../../anthropic/tool_ids.ts";
import { repairProblem, StreamedArgs, unusableCallText } from "../openai/tool_args.ts";
import { closeStartedToolBlock, emptyDelta, messageStart } from "../openai/stream_events.ts";
import { restoreToolName } from "../openai/tool_names.ts";
import type { EventConverter } from "../protocol.ts";
import type { SseMessage } from "../sse_decode.ts";
import { failureError } from "./errors.ts";
import { upstreamErrorInStream } from "../openai/errors.ts";
import { estimateOutputTokens } from "../openai/usage.ts";
import { type Ending, mapStopReason, mapUsage } from "./outcome.ts";
import { errorContext } from "../openai/answer_options.ts";
import { reasoningSignature, type ResponseOptions, summaryText } from "./response.ts";
import { OutputItem, ResponseObject, type ResponsesUsage } from "./schema.ts";

/** Events that carry nothing this conversion needs. */
const QUIET = new Set([
  "response.created",
  "response.in_progress",
  "response.queued",
  // The text block opens on the first text instead: a message item without any (before a
  // function call, say) would leave an empty text block, which Anthropic refuses when sent back.
  "response.content_part.added",
  "response.content_part.done",
  "response.output_text.annotation.added",
  "response.refusal.done",
  "response.reasoning_summary_part.done",
  "response.reasoning_summary_text.done",
  "response.reasoning_text.done",
]);

type ToolState = {
  callId: string | undefined;
  name: string | undefined;
  args: StreamedArgs;
  /** Arguments released for streaming before the block started. */
  unsent: string;
  blockIndex: number | undefined;
  closed: boolean;
  /** Its `output_item.done` came while another call's block was open: it waits whole. */
  done: boolean;
};

type Item =
  | { kind: "message"; streamed: boolean; blockIndex: number | undefined }
  | {
    kind: "reasoning";
    streamed: boolean;
    summaryIndex: number;
    newParagraph: boolean;
    blockIndex: number | undefined;
  }
  | { kind: "tool"; tool: ToolState };

type Open = { kind: "text" | "thinking" | "tool"; index: number };

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export class StreamConverter implements EventConverter {
  #opts: ResponseOptions;
  #nextIndex = 0;
  #open: Open | undefined;
  #items = new Map<string, Item>();
  #tools: ToolState[] = [];
  /**
   * Calls whose arguments came while another call's block was open (a server that interleaves
   * parallel calls by output_index): Anthropic's blocks cannot interleave, so each waits, in
   * order, for the open one to end.
   */
  #waiting: ToolState[] = [];
  #ending: Ending | undefined;
  #usage: ResponsesUsage | undefined;
  #outputChars = 0;
  #sawToolUse = false;
  #sawRefusal = false;
  #finalUsage: Usage | undefined;
  #ignored = new Set<string>();

  constructor(opts: ResponseOptions) {
    this.#opts = opts;
  }

  start(): StreamEvent[] {
    return [messageStart(this.#opts)];
  }

  /** `response.completed` or `response.incomplete` arrived: the answer is whole. */
  get sawDone(): boolean {
    return this.#ending !== undefined;
  }

  /** Event types this converter did not know, for a debug note. */
  get ignoredEvents(): ReadonlySet<string> {
    return this.#ignored;
  }

  get usageSoFar(): Usage {
    return this.#finalUsage ??
      mapUsage(
        this.#usage,
        this.#opts.inputTokensEstimate,
        estimateOutputTokens(this.#outputChars),
      );
  }

  push(msg: SseMessage): StreamEvent[] {
    const data = msg.data;
    if (data === "[DONE]" || data.trim() === "") return [];
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new ProxyError(502, "api_error", "upstream sent a malformed stream event (not JSON)");
    }
    if (!isObj(json)) {
      throw new ProxyError(502, "api_error", "upstream sent a stream event of an unexpected shape");
    }
    const type = str(json.type) ?? msg.event ?? "";
    const out: StreamEvent[] = [];
    switch (type) {
      case "response.output_item.added":
        this.#itemAdded(json, out);
        break;
      case "response.output_text.delta":
      case "response.refusal.delta": {
        if (type === "response.refusal.delta") this.#sawRefusal = true;
        const delta = str(json.delta);
        const item = this.#item(json, "message");
        if (delta && item?.kind === "message") {
          item.streamed = true;
          this.#appendText("text", delta, out, item);
        }
        break;
      }
      case "response.output_text.done": {
        // An upstream that sends the text only whole.
        const item = this.#item(json, "message");
        const text = str(json.text);
        if (text && item?.kind === "message" && !item.streamed) {
          item.streamed = true;
          this.#appendText("text", text, out, item);
        }
        break;
      }
      case "response.reasoning_summary_part.added":
      case "response.reasoning_summary_text.delta":
      case "response.reasoning_text.delta":
        if (this.#opts.thinking) this.#reasoningDelta(type, json, out);
        break;
      case "response.function_call_arguments.delta":
      case "response.function_call_arguments.done": {
        const item = this.#item(json, "tool");
        const done = type.endsWith(".done");
        const text = str(done ? json.arguments : json.delta);
        // `.done` repeats the whole arguments: used only when no delta came.
        if (item?.kind === "tool" && text && (!done || item.tool.args.text === "")) {
          this.#toolArgs(item.tool, text, out);
        }
        break;
      }
      case "response.output_item.done":
        this.#itemDone(json, out);
        break;
      case "response.completed":
      case "response.incomplete": {
        const response = ResponseObject.safeParse(json.response);
        const r = response.success ? response.data : undefined;
        if (r?.usage) this.#usage = r.usage;
        if (this.#items.size === 0) {
          // A server that streams only the final response: its output items, whole.
          for (const [output_index, item] of (r?.output ?? []).entries()) {
            this.#itemDone({ output_index, item }, out);
          }
        }
        this.#ending = {
          status: type === "response.incomplete" ? "incomplete" : "completed",
          incompleteReason: r?.incomplete_details?.reason ?? undefined,
          sawToolCalls: false,
          sawRefusal: false,
        };
        break;
      }
      case "response.failed": {
        const response = isObj(json.response) ? json.response : {};
        const error = isObj(response.error) ? response.error : undefined;
        throw failureError(error, "during the stream", errorContext(this.#opts));
      }
      case "error":
        throw failureError(
          isObj(json.error) ? json.error : json,
          "during the stream",
          errorContext(this.#opts),
        );
      default: {
        // Gateways (OpenRouter, LiteLLM) report a failure as an untyped `{"error": {...}}`, as
        // they do in Chat Completions streams: the same mapping applies.
        const failure = upstreamErrorInStream(json, undefined, undefined, errorContext(this.#opts));
        if (failure) throw failure;
        if (!QUIET.has(type)) this.#ignored.add(type || "(no type)");
      }
    }
    return out;
  }

  finish(): StreamEvent[] {
    if (this.#ending === undefined) {
      throw new ProxyError(
        529,
        "overloaded_error",
        "upstream stream ended before the answer was complete (no response.completed)",
      );
    }
    const out: StreamEvent[] = [];
    this.#closeOpen(out);
    for (const tool of this.#tools) if (!tool.closed) this.#flushTool(tool, out);
    const stop_reason = mapStopReason({
      ...this.#ending,
      sawToolCalls: this.#sawToolUse,
      sawRefusal: this.#sawRefusal,
    });
    const usage = mapUsage(
      this.#usage,
      this.#opts.inputTokensEstimate,
      estimateOutputTokens(this.#outputChars),
    );
    this.#finalUsage = usage;
    out.push({ type: "message_delta", delta: { stop_reason, stop_sequence: null }, usage });
    out.push({ type: "message_stop" });
    return out;
  }

  /** See the Chat Completions converter: a content event keeps Claude Code's watchdog quiet. */
  keepAlive(): StreamEvent[] {
    if (this.#finalUsage !== undefined) return [];
    const open = this.#open;
    const out: StreamEvent[] = [];
    if (open === undefined) this.#appendText("thinking", "", out);
    else out.push(emptyDelta(open));
    return out;
  }

  /** The event's item: by `output_index`, else by `item_id`. */
  #key(json: Json): string | undefined {
    if (typeof json.output_index === "number") return `o${json.output_index}`;
    const id = str(json.item_id);
    return id === undefined ? undefined : `i${id}`;
  }

  /** The item an event belongs to; one of `kind` is created for an event without an `added`. */
  #item(json: Json, kind: Item["kind"]): Item | undefined {
    const key = this.#key(json);
    if (key === undefined) return undefined;
    let item = this.#items.get(key);
    if (item === undefined) {
      item = this.#newItem(kind, undefined, undefined);
      this.#items.set(key, item);
      const id = str(json.item_id);
      if (id !== undefined) this.#items.set(`i${id}`, item);
    }
    return item;
  }

  #newItem(kind: Item["kind"], callId: string | undefined, name: string | undefined): Item {
    switch (kind) {
      case "message":
        return { kind, streamed: false, blockIndex: undefined };
      case "reasoning":
        return {
          kind,
          streamed: false,
          summaryIndex: 0,
          newParagraph: false,
          blockIndex: undefined,
        };
      case "tool": {
        const tool: ToolState = {
          callId,
          name,
          args: new StreamedArgs(),
          unsent: "",
          blockIndex: undefined,
          closed: false,
          done: false,
        };
        this.#tools.push(tool);
        return { kind, tool };
      }
    }
  }

  #itemAdded(json: Json, out: StreamEvent[]) {
    const parsed = OutputItem.safeParse(json.item);
    const key = this.#key(json);
    if (!parsed.success || key === undefined) return;
    const raw = parsed.data;
    const kind = this.#kindOf(raw.type);
    if (kind === undefined) return;
    const item = this.#newItem(kind, raw.call_id ?? undefined, raw.name ?? undefined);
    this.#items.set(key, item);
    if (raw.id) this.#items.set(`i${raw.id}`, item);
    if (item.kind === "reasoning") this.#ensureThinking(item, out);
    // Arguments here (OpenAI sends "") are not used: deltas may follow, and `.done` and
    // `output_item.done` carry them whole anyway.
  }

  /** The items this conversion maps; reasoning only when the client asked for thinking. */
  #kindOf(type: string): Item["kind"] | undefined {
    switch (type) {
      case "message":
        return "message";
      case "function_call":
        return "tool";
      case "reasoning":
        return this.#opts.thinking ? "reasoning" : undefined;
      default:
        return undefined;
    }
  }

  #reasoningDelta(type: string, json: Json, out: StreamEvent[]) {
    const item = this.#item(json, "reasoning");
    if (item?.kind !== "reasoning") return;
    const index = typeof json.summary_index === "number" ? json.summary_index : item.summaryIndex;
    // Summary parts are paragraphs: a new one starts after a blank line.
    if (index !== item.summaryIndex && item.streamed) item.newParagraph = true;
    item.summaryIndex = index;
    const delta = type === "response.reasoning_summary_part.added" ? "" : str(json.delta) ?? "";
    if (delta === "") return;
    const text = item.newParagraph ? `\n\n${delta}` : delta;
    item.newParagraph = false;
    item.streamed = true;
    this.#appendText("thinking", text, out, item);
  }

  #itemDone(json: Json, out: StreamEvent[]) {
    const parsed = OutputItem.safeParse(json.item);
    if (!parsed.success) return;
    const raw = parsed.data;
    const kind = this.#kindOf(raw.type);
    if (kind === undefined) return;
    const item = this.#item(json, kind) ??
      (raw.id ? this.#items.get(`i${raw.id}`) : undefined) ??
      this.#newItem(kind, raw.call_id ?? undefined, raw.name ?? undefined);
    switch (item.kind) {
      case "message": {
        if (!item.streamed) {
          for (const part of raw.content ?? []) {
            if (part.type === "refusal") this.#sawRefusal = true;
            const text = part.type === "refusal" ? part.refusal : part.text;
            if (text) this.#appendText("text", text, out, item);
          }
          item.streamed = true;
        }
        if (this.#open?.kind === "text" && this.#open.index === item.blockIndex) {
          this.#closeOpen(out);
        }
        break;
      }
      case "reasoning": {
        this.#ensureThinking(item, out);
        if (!item.streamed) {
          const text = summaryText(raw);
          if (text) this.#appendText("thinking", text, out, item);
          item.streamed = true;
        }
        const index = item.blockIndex!;
        out.push({
          type: "content_block_delta",
          index,
          delta: {
            type: "signature_delta",
            signature: reasoningSignature(raw.encrypted_content, this.#opts.upstreamTag),
          },
        });
        out.push({ type: "content_block_stop", index });
        if (this.#open?.index === index) this.#open = undefined;
        break;
      }
      case "tool": {
        const tool = item.tool;
        tool.callId ??= raw.call_id ?? undefined;
        tool.name ??= raw.name ?? undefined;
        if (tool.args.text === "" && raw.arguments) this.#toolArgs(tool, raw.arguments, out);
        if (tool.closed) break;
        if (this.#waiting.includes(tool)) {
          tool.done = true;
          this.#releaseWaiting(out);
          break;
        }
        if (tool.blockIndex !== undefined) {
          // A call the answer's end cut short stays open for that end, which says whether the
          // token limit cut it (see #finishToolArgs).
          if (raw.status === "incomplete" && this.#open?.index === tool.blockIndex) break;
          if (this.#open?.kind === "tool" && this.#open.index === tool.blockIndex) {
            this.#open = undefined;
          }
          this.#finishToolArgs(tool, out);
        } else this.#flushTool(tool, out);
        this.#releaseWaiting(out);
        break;
      }
    }
  }

  /** The calls that waited for the block now ended, in order: whole when done, else started. */
  #releaseWaiting(out: StreamEvent[]) {
    while (this.#waiting.length > 0 && this.#open?.kind !== "tool") {
      const tool = this.#waiting.shift()!;
      if (tool.closed) continue;
      if (tool.done) {
        this.#flushTool(tool, out);
        continue;
      }
      if (tool.unsent === "" || tool.name === undefined) continue;
      this.#startTool(tool, out);
      this.#sendUnsent(tool, out);
    }
  }

  #ensureText(item: Extract<Item, { kind: "message" }>, out: StreamEvent[]) {
    if (this.#open?.kind === "text" && this.#open.index === item.blockIndex) return;
    this.#startBlock("text", out);
    item.blockIndex = this.#open!.index;
  }

  #ensureThinking(item: Extract<Item, { kind: "reasoning" }>, out: StreamEvent[]) {
    if (this.#open?.kind === "thinking" && this.#open.index === item.blockIndex) return;
    // (A reasoning item whose block another item closed goes on in a new block.)
    this.#startBlock("thinking", out);
    item.blockIndex = this.#open!.index;
  }

  #startBlock(kind: "text" | "thinking", out: StreamEvent[]) {
    this.#closeOpen(out);
    const index = this.#nextIndex++;
    out.push({
      type: "content_block_start",
      index,
      content_block: kind === "text"
        ? { type: "text", text: "" }
        : { type: "thinking", thinking: "", signature: "" },
    });
    this.#open = { kind, index };
  }

  /** Text into the item's block (opening one if needed), or a silent thinking block. */
  #appendText(
    kind: "text" | "thinking",
    text: string,
    out: StreamEvent[],
    item?: Extract<Item, { kind: "message" | "reasoning" }>,
  ) {
    this.#outputChars += text.length;
    if (item?.kind === "message") this.#ensureText(item, out);
    else if (item?.kind === "reasoning") this.#ensureThinking(item, out);
    else if (this.#open?.kind !== kind) this.#startBlock(kind, out);
    if (text === "") return;
    out.push({
      type: "content_block_delta",
      index: this.#open!.index,
      delta: kind === "text"
        ? { type: "text_delta", text }
        : { type: "thinking_delta", thinking: text },
    });
  }

  #closeOpen(out: StreamEvent[]) {
    const open = this.#open;
    if (!open) return;
    this.#open = undefined;
    if (open.kind === "tool") {
      const tool = this.#tools.find((t) => t.blockIndex === open.index);
      if (tool && !tool.closed) this.#finishToolArgs(tool, out);
      return;
    }
    if (open.kind === "thinking") {
      // A thinking block closed before its item was done (cut short): it carries no reasoning.
      out.push({
        type: "content_block_delta",
        index: open.index,
        delta: { type: "signature_delta", signature: reasoningSignature(undefined, "") },
      });
    }
    out.push({ type: "content_block_stop", index: open.index });
  }

  #toolArgs(tool: ToolState, fragment: string, out: StreamEvent[]) {
    this.#outputChars += fragment.length;
    if (tool.closed) return;
    tool.unsent += tool.args.push(fragment);
    if (tool.unsent === "" || tool.name === undefined) return;
    if (tool.blockIndex === undefined) {
      if (this.#open?.kind === "tool" || this.#waiting.length > 0) {
        if (!this.#waiting.includes(tool)) this.#waiting.push(tool);
        return;
      }
      this.#startTool(tool, out);
    }
    this.#sendUnsent(tool, out);
  }

  /** The arguments released since the last delta, to the call's started block. */
  #sendUnsent(tool: ToolState, out: StreamEvent[]) {
    out.push({
      type: "content_block_delta",
      index: tool.blockIndex!,
      delta: { type: "input_json_delta", partial_json: tool.unsent },
    });
    tool.unsent = "";
  }

  #startTool(tool: ToolState, out: StreamEvent[]) {
    this.#closeOpen(out);
    const index = this.#nextIndex++;
    tool.blockIndex = index;
    this.#sawToolUse = true;
    const id = tool.callId ?? `call_${this.#opts.messageId.slice(-12)}_${index}`;
    out.push({
      type: "content_block_start",
      index,
      content_block: {
        type: "tool_use",
        id: encodeClientToolId(id, undefined),
        name: restoreToolName(this.#opts.toolNames, tool.name ?? "unknown_tool"),
        input: {},
      },
    });
    this.#open = { kind: "tool", index };
  }

  #problem(tool: ToolState, input: Record<string, unknown>, repaired: boolean) {
    const name = restoreToolName(this.#opts.toolNames, tool.name ?? "");
    const cutByLimit = this.#ending !== undefined && mapStopReason(this.#ending) === "max_tokens";
    return repairProblem(input, repaired, this.#opts.toolSchemas?.get(name), cutByLimit);
  }

  /** Closes a started tool block, appending what completes cut-off arguments. */
  #finishToolArgs(tool: ToolState, out: StreamEvent[]) {
    tool.closed = true;
    const result = tool.args.finish();
    const problem = result.ok ? this.#problem(tool, result.input, result.repaired) : result.reason;
    const cutByLimit = this.#ending !== undefined && mapStopReason(this.#ending) === "max_tokens";
    const kept = closeStartedToolBlock(
      tool.name,
      tool.blockIndex!,
      result,
      problem,
      cutByLimit,
      out,
    );
    if (this.#open?.index === tool.blockIndex) this.#open = undefined;
    if (kept === undefined) return;
    // What #flushTool says instead of such a call that had not started, and the non-streamed
    // answer too.
    const name = restoreToolName(this.#opts.toolNames, tool.name ?? "");
    this.#appendText("text", unusableCallText(name, kept, tool.args.text), out);
    this.#closeOpen(out);
  }

  /** A tool call whose block has not started: decided now, with all its arguments known. */
  #flushTool(tool: ToolState, out: StreamEvent[]) {
    tool.closed = true;
    if (tool.name === undefined) {
      throw new ProxyError(502, "api_error", "upstream sent a function call without a name");
    }
    const result = tool.args.finish();
    const problem = result.ok ? this.#problem(tool, result.input, result.repaired) : result.reason;
    if (!result.ok || problem !== undefined) {
      // Nothing of this call reached the client yet, so it can be reported as text instead.
      const name = restoreToolName(this.#opts.toolNames, tool.name);
      this.#appendText("text", unusableCallText(name, `${problem}`, tool.args.text), out);
      this.#closeOpen(out);
      return;
    }
    this.#startTool(tool, out);
    for (const json of [tool.unsent, result.append]) {
      if (!json) continue;
      out.push({
        type: "content_block_delta",
        index: tool.blockIndex!,
        delta: { type: "input_json_delta", partial_json: json },
      });
    }
    tool.unsent = "";
    out.push({ type: "content_block_stop", index: tool.blockIndex! });
    this.#open = undefined;
  }
}
