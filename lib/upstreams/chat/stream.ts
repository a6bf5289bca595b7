/**
 * OpenAI chat completion chunks → the Anthropic stream event grammar
 * (https://docs.anthropic.com/en/api/messages-streaming): message_start; per block
 * content_block_start, deltas, content_block_stop with indexes 0,1,2… in start order;
 * message_delta with the stop reason and usage; message_stop.
 *
 * The converter owns block indexes and keeps at most one block open. It throws a ProxyError
 * for a stream that cannot be completed honestly (malformed chunk, error object, early end);
 * the caller turns that into an `event: error`.
 */
import type { StreamEvent, Usage } from "../../anthropic/schema.ts";
import { namelessCall, type ResponseOptions } from "./response.ts";
import { ProxyError } from "../../anthropic/errors.ts";
import { type ChatCompletionChunk, type OpenAIUsage, readChunk } from "./schema.ts";
import { type ErrorContext, upstreamErrorInStream } from "../openai/errors.ts";
import { errorContext } from "../openai/answer_options.ts";
import type { SseMessage } from "../sse_decode.ts";
import type { EventConverter } from "../protocol.ts";
import { failedFinish, mapStopReason, matchedStopSequence } from "./stop_reason.ts";
import { contentParts } from "./reasoning.ts";
import { encodeSignature, mergeReasoningDetails } from "../../anthropic/signature.ts";
import { repairProblem, StreamedArgs, unusableCallText } from "../openai/tool_args.ts";
import { closeStartedToolBlock, emptyDelta, messageStart } from "../openai/stream_events.ts";
import { encodeClientToolId } from "../../anthropic/tool_ids.ts";
import { ToolCallIds } from "../openai/tool_call_ids.ts";
import { restoreToolName } from "../openai/tool_names.ts";
import { mapUsage } from "./usage.ts";
import { estimateOutputTokens } from "../openai/usage.ts";
import {
  type ScannedPiece,
  type TextToolCallScanner,
  textToolCallScanner,
} from "../openai/text_tool_calls/scanner.ts";

export type StreamOptions = ResponseOptions;

type ToolState = {
  /** The index the upstream gave the call, once it gave one. */
  index: number | undefined;
  upstreamId: string | undefined;
  name: string | undefined;
  extra: unknown;
  args: StreamedArgs;
  /** Arguments released for streaming before the block could start (name not known yet). */
  unsent: string;
  blockIndex: number | undefined;
  closed: boolean;
};

type ChunkChoice = NonNullable<ChatCompletionChunk["choices"]>[number];

type Open =
  | { kind: "text"; index: number }
  | { kind: "thinking"; index: number }
  | { kind: "tool"; index: number; tool: ToolState };

export class StreamConverter implements EventConverter {
  #opts: StreamOptions;
  #nextIndex = 0;
  #open: Open | undefined;
  #tools: ToolState[] = [];
  #toolsByKey = new Map<string, ToolState>();
  #finish: string | null = null;
  #matchedStop: string | null = null;
  #done = false;
  /** Usage came with or after the finish_reason: the answer is over, [DONE] or not. */
  #usageAfterFinish = false;
  #usage: OpenAIUsage | undefined;
  #outputChars = 0;
  #reasoningDetails: unknown[] = [];
  #sawToolUse = false;
  #ids = new ToolCallIds();
  /** Blank answer text that arrived while a tool block was open (see #answerText). */
  #heldBlank = "";
  #ended = false;
  #finalUsage: Usage | undefined;
  #errorContext: ErrorContext;
  /** Reads tool calls the model wrote as text; only when the request had tools. */
  #scanner: TextToolCallScanner | undefined;

  constructor(opts: StreamOptions) {
    this.#opts = opts;
    this.#scanner = textToolCallScanner(opts.toolNames, opts.toolSchemas);
    this.#errorContext = errorContext(opts);
  }

  /** The first event, sent as soon as the upstream has answered 200. */
  start(): StreamEvent[] {
    return [messageStart(this.#opts)];
  }

  get finished(): boolean {
    return this.#ended;
  }

  /**
   * The answer is over even if the connection stays open: the upstream sent `data: [DONE]`, or
   * usage with or after the finish_reason. OpenAI with `stream_options.include_usage` sends the
   * finish chunk, then a usage chunk with no choices, then [DONE]
   * (https://platform.openai.com/docs/api-reference/chat/streaming); some servers leave out the
   * [DONE] and keep the connection open, which would hold a finished answer until the idle
   * timeout failed it. A finish without usage still waits: the usage chunk may follow.
   */
  get sawDone(): boolean {
    return this.#done || this.#usageAfterFinish;
  }

  push(msg: SseMessage): StreamEvent[] {
    const data = msg.data;
    if (data === "[DONE]") {
      this.#done = true;
      return [];
    }
    if (data.trim() === "") return [];
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new ProxyError(502, "api_error", "upstream sent a malformed stream chunk (not JSON)");
    }
    const inStreamError = upstreamErrorInStream(json, msg.event, undefined, this.#errorContext);
    if (inStreamError) throw inStreamError;
    const chunk = readChunk(json);
    if (!chunk) {
      throw new ProxyError(502, "api_error", "upstream sent a stream chunk of an unexpected shape");
    }
    if (chunk.usage) this.#usage = chunk.usage;
    const choice = chunk.choices?.[0];
    const out = choice ? this.#choice(choice) : [];
    if (chunk.usage && this.#finish !== null) this.#usageAfterFinish = true;
    return out;
  }

  #choice(choice: ChunkChoice): StreamEvent[] {
    const out: StreamEvent[] = [];
    const delta = choice.delta;
    if (delta) {
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (Array.isArray(delta.reasoning_details) && delta.reasoning_details.length > 0) {
        // Encrypted details (OpenAI, Gemini behind OpenRouter) come without text, yet must
        // reach the next request: a thinking block's signature is what carries them back.
        if (this.#open?.kind !== "thinking") this.#appendText("thinking", "", out);
        mergeReasoningDetails(this.#reasoningDetails, delta.reasoning_details);
      }
      if (reasoning) this.#appendText("thinking", reasoning, out);
      if (Array.isArray(delta.content)) {
        for (const part of contentParts(delta.content)) {
          if (part.kind === "thinking") this.#appendText("thinking", part.text, out);
          else this.#answerText(part.text, out);
        }
      } else {
        const text = delta.content ?? delta.refusal;
        if (text) this.#answerText(text, out);
      }
      // The legacy single call (see response.ts) has neither index nor id: it is read as
      // Gemini's calls are.
      const calls = delta.function_call && !delta.tool_calls?.length
        ? [{ function: delta.function_call }]
        : delta.tool_calls;
      if (calls) {
        // The text before a native call is over: what the scanner holds goes first.
        if (this.#scanner) this.#scanned(this.#scanner.finish(), out);
        for (const call of calls) this.#toolCall(call, out);
      }
    }
    if (choice.finish_reason) {
      // OpenRouter ends a failed generation with "error", sometimes without an error object.
      const failed = failedFinish(choice.finish_reason);
      if (failed) throw failed;
      this.#finish = choice.finish_reason;
      this.#matchedStop = matchedStopSequence(choice, this.#opts.stopSequences);
    }
    return out;
  }

  /** The upstream body ended. Completes the message, or throws if it was cut short. */
  finish(): StreamEvent[] {
    if (this.#finish === null && !this.#done) {
      throw new ProxyError(
        529,
        "overloaded_error",
        "upstream stream ended before the answer was complete (no finish_reason and no [DONE])",
      );
    }
    const out: StreamEvent[] = [];
    if (this.#scanner) this.#scanned(this.#scanner.finish(), out);
    this.#closeOpen(out);
    // Tool calls whose block never started (arguments held back, or none at all).
    for (const tool of this.#tools) if (!tool.closed) this.#flushTool(tool, out);
    const { stop_reason, stop_sequence } = mapStopReason(
      this.#finish,
      this.#sawToolUse,
      this.#matchedStop,
    );
    const usage = mapUsage(
      this.#usage,
      this.#opts.inputTokensEstimate,
      estimateOutputTokens(this.#outputChars),
    );
    this.#finalUsage = usage;
    out.push({ type: "message_delta", delta: { stop_reason, stop_sequence }, usage });
    out.push({ type: "message_stop" });
    this.#ended = true;
    return out;
  }

  /**
   * Events that carry nothing, for a long upstream silence. Claude Code's stream watchdog
   * (2.1.x: 300 s; CLAUDE_STREAM_IDLE_TIMEOUT_MS can only raise it) skips `ping` events, so only
   * a content event keeps it from aborting the stream and sending the request again without
   * streaming: an empty delta in the open block, or else an empty thinking block (the model is
   * thinking, silently).
   */
  keepAlive(): StreamEvent[] {
    if (this.#ended) return [];
    const open = this.#open;
    const out: StreamEvent[] = [];
    if (open === undefined) this.#appendText("thinking", "", out);
    else out.push(emptyDelta(open));
    return out;
  }

  /** Final usage, once the message is complete. */
  get usage(): Usage | undefined {
    return this.#finalUsage;
  }

  /** Final usage, or for a stream that ended early what it had so far (for the request log). */
  get usageSoFar(): Usage {
    return this.#finalUsage ??
      mapUsage(
        this.#usage,
        this.#opts.inputTokensEstimate,
        estimateOutputTokens(this.#outputChars),
      );
  }

  #startBlock(
    open: Open,
    block: StreamEvent & { type: "content_block_start" },
    out: StreamEvent[],
  ) {
    out.push(block);
    this.#open = open;
  }

  /** Appends text to the open block of `kind`, first opening one (and closing any other). */
  #appendText(kind: "text" | "thinking", text: string, out: StreamEvent[]) {
    this.#outputChars += text.length;
    if (this.#open?.kind !== kind) {
      this.#closeOpen(out);
      const index = this.#nextIndex++;
      this.#startBlock({ kind, index }, {
        type: "content_block_start",
        index,
        content_block: kind === "text"
          ? { type: "text", text: "" }
          : { type: "thinking", thinking: "", signature: "" },
      }, out);
    }
    // An empty thinking block still carries encrypted reasoning in its signature.
    if (text === "") return;
    out.push({
      type: "content_block_delta",
      index: this.#open!.index,
      delta: kind === "text"
        ? { type: "text_delta", text }
        : { type: "thinking_delta", thinking: text },
    });
  }

  /** Answer text: searched for tool calls written as text when the request had tools. */
  #answerText(text: string, out: StreamEvent[]) {
    // Some servers send a newline as content between a call's argument fragments: as text it
    // would close the block before its arguments are whole. Blank text waits, and goes out only
    // with text that is not blank.
    if (this.#open?.kind === "tool" && text.trim() === "") {
      this.#heldBlank += text;
      return;
    }
    if (this.#heldBlank !== "") {
      text = this.#heldBlank + text;
      this.#heldBlank = "";
    }
    if (this.#scanner) this.#scanned(this.#scanner.push(text), out);
    else this.#appendText("text", text, out);
  }

  #scanned(pieces: ScannedPiece[], out: StreamEvent[]) {
    for (const piece of pieces) {
      if (piece.kind === "text") {
        this.#appendText("text", piece.text, out);
        continue;
      }
      for (const call of piece.calls) {
        this.#closeOpen(out);
        const index = this.#nextIndex++;
        this.#sawToolUse = true;
        const json = JSON.stringify(call.input);
        this.#outputChars += json.length;
        out.push({
          type: "content_block_start",
          index,
          content_block: {
            type: "tool_use",
            id: this.#ids.claim(undefined, this.#generatedId(index)),
            name: restoreToolName(this.#opts.toolNames, call.name),
            input: {},
          },
        });
        out.push({
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json: json },
        });
        out.push({ type: "content_block_stop", index });
      }
    }
  }

  #toolFor(
    call: { index?: number | null; id?: string | null; function?: { name?: string | null } | null },
    fragment: string,
  ): ToolState {
    // Upstreams differ: OpenAI sends `index`; some omit it, some repeat the id in every chunk.
    let key: string | undefined;
    if (typeof call.index === "number") key = `i${call.index}`;
    else if (call.id) key = `id${call.id}`;
    let tool = key === undefined ? this.#tools[this.#tools.length - 1] : this.#toolsByKey.get(key);
    const name = call.function?.name;
    if (
      tool !== undefined && key?.startsWith("i") && call.id && tool.upstreamId !== undefined &&
      call.id !== tool.upstreamId &&
      (tool.args.complete || (tool.args.text.trim() === "" && !!name)) &&
      // The same call again under a fresh id (servers that mint one per chunk) is not a new call.
      !(fragment !== "" && fragment === tool.args.text && (!name || name === tool.name))
    ) {
      // A new id under an index already taken by a finished call is the next call: Ollama gives
      // every parallel call index 0 (https://github.com/ollama/ollama/issues/15457), and so do
      // some llama.cpp-based servers and gateways.
      tool = this.#toolsByKey.get(`id${call.id}`);
    }
    if (key === undefined && tool?.name !== undefined && name) {
      // Neither index nor id (Gemini sends whole calls so): a named chunk after a finished call
      // is the next call, unless it only repeats that call (a cumulative snapshot).
      const repeat = name === tool.name && fragment !== "" && fragment.startsWith(tool.args.text);
      if (name !== tool.name || (tool.args.complete && !repeat)) tool = undefined;
    }
    if (!tool && call.id && typeof call.index === "number") {
      // Same call announced by id before, now with an index (or the reverse). A call under
      // another index is another call, whose id only repeats the first's (made unique later).
      const byId = this.#toolsByKey.get(`id${call.id}`);
      if (byId?.index === undefined) tool = byId;
    }
    if (!tool) {
      tool = {
        index: undefined,
        upstreamId: undefined,
        name: undefined,
        extra: undefined,
        args: new StreamedArgs(),
        unsent: "",
        blockIndex: undefined,
        closed: false,
      };
      this.#tools.push(tool);
    }
    if (typeof call.index === "number") tool.index ??= call.index;
    if (key !== undefined) this.#toolsByKey.set(key, tool);
    if (call.id) this.#toolsByKey.set(`id${call.id}`, tool);
    return tool;
  }

  #toolCall(
    call: {
      index?: number | null;
      id?: string | null;
      function?: { name?: string | null; arguments?: unknown } | null;
      extra_content?: unknown;
    },
    out: StreamEvent[],
  ) {
    const rawArgs = call.function?.arguments;
    // Ollama and others may send arguments as an object, whole, in one chunk.
    const fragment = typeof rawArgs === "string"
      ? rawArgs
      : rawArgs && typeof rawArgs === "object"
      ? JSON.stringify(rawArgs)
      : "";
    const tool = this.#toolFor(call, fragment);
    if (call.id && !tool.upstreamId) tool.upstreamId = call.id;
    if (call.function?.name && !tool.name) tool.name = call.function.name;
    if (call.extra_content !== undefined) tool.extra = call.extra_content;
    if (fragment === "") return;
    this.#outputChars += fragment.length;
    if (tool.closed) {
      throw new ProxyError(
        502,
        "api_error",
        "upstream interleaved the arguments of parallel tool calls; the answer cannot be streamed",
      );
    }
    tool.unsent += tool.args.push(fragment);
    if (tool.unsent === "" || tool.name === undefined) return;
    // An earlier call announced without arguments may still get them, or have none; either way
    // it comes first (Claude Code runs calls in block order), so this one waits, its arguments
    // kept, until that call starts, at the latest at the end.
    if (this.#argless(tool).length > 0) return;
    const open = this.#open;
    if (open?.kind === "tool" && open.tool !== tool) {
      // Parallel calls whose fragments interleave (several calls in each chunk): a block cannot
      // be closed mid-arguments, so this call's wait, in `unsent`, until the open one is whole.
      if (!open.tool.args.complete) return;
    }
    if (open?.kind !== "tool" || open.tool !== tool) this.#startTool(tool, out);
    out.push({
      type: "content_block_delta",
      index: tool.blockIndex!,
      delta: { type: "input_json_delta", partial_json: tool.unsent },
    });
    tool.unsent = "";
  }

  /**
   * The calls before `later` held back with a name and an id but no arguments yet. Arguments may
   * come chunks after the name and id, or never (a tool without parameters): only they, or the
   * end, tell.
   */
  #argless(later: ToolState): ToolState[] {
    const end = this.#tools.indexOf(later);
    if (end <= 0) return [];
    return this.#tools.slice(0, end).filter((t) =>
      !t.closed && t.blockIndex === undefined && t.name !== undefined &&
      t.upstreamId !== undefined && t.args.text.trim() === ""
    );
  }

  #startTool(tool: ToolState, out: StreamEvent[]) {
    this.#closeOpen(out);
    const index = this.#nextIndex++;
    tool.blockIndex = index;
    this.#sawToolUse = true;
    const id = this.#ids.claim(tool.upstreamId, this.#generatedId(index));
    this.#startBlock({ kind: "tool", index, tool }, {
      type: "content_block_start",
      index,
      content_block: {
        type: "tool_use",
        id: encodeClientToolId(id, tool.extra),
        name: restoreToolName(this.#opts.toolNames, tool.name ?? "unknown_tool"),
        input: {},
      },
    }, out);
  }

  #generatedId(blockIndex: number): string {
    return `call_${this.#opts.messageId.slice(-12)}_${blockIndex}`;
  }

  #closeOpen(out: StreamEvent[]) {
    const open = this.#open;
    if (!open) return;
    this.#open = undefined;
    if (open.kind === "thinking") {
      out.push({
        type: "content_block_delta",
        index: open.index,
        delta: {
          type: "signature_delta",
          signature: encodeSignature(
            this.#reasoningDetails.length > 0 ? { reasoning_details: this.#reasoningDetails } : {},
          ),
        },
      });
      // Each thinking block carries its own details, so none goes back twice.
      this.#reasoningDetails = [];
    }
    if (open.kind === "tool") {
      this.#finishToolArgs(open.tool, out);
      return;
    }
    out.push({ type: "content_block_stop", index: open.index });
  }

  /** Closes a started tool block, appending what completes cut-off arguments. */
  #finishToolArgs(tool: ToolState, out: StreamEvent[]) {
    tool.closed = true;
    const result = tool.args.finish();
    const problem = result.ok ? this.#repairProblem(tool, result) : result.reason;
    // Only the finish reason, known by now when the upstream ended, says the limit cut them.
    const cutByLimit = this.#finish === "length";
    const kept = closeStartedToolBlock(
      tool.name,
      tool.blockIndex!,
      result,
      problem,
      cutByLimit,
      out,
    );
    if (kept === undefined) return;
    // The text the non-streamed answer gives instead of such a call (see response.ts).
    const name = restoreToolName(this.#opts.toolNames, tool.name ?? "");
    this.#appendText("text", unusableCallText(name, kept, tool.args.text), out);
    this.#closeOpen(out);
  }

  #repairProblem(
    tool: ToolState,
    result: { input: Record<string, unknown>; repaired: boolean },
  ): string | undefined {
    const name = restoreToolName(this.#opts.toolNames, tool.name ?? "");
    return repairProblem(
      result.input,
      result.repaired,
      this.#opts.toolSchemas?.get(name),
      this.#finish === "length",
    );
  }

  /** A tool call whose block has not started: decide now, with all its arguments known. */
  #flushTool(tool: ToolState, out: StreamEvent[]) {
    if (tool.name === undefined) {
      tool.closed = true;
      throw namelessCall();
    }
    const result = tool.args.finish();
    const problem = result.ok ? this.#repairProblem(tool, result) : result.reason;
    if (problem !== undefined || !result.ok) {
      tool.closed = true;
      // Nothing of this call reached the client yet, so it can be reported as text instead.
      const name = restoreToolName(this.#opts.toolNames, tool.name);
      const reason = problem ?? "could not be used";
      this.#appendText("text", unusableCallText(name, reason, tool.args.text), out);
      this.#closeOpen(out);
      return;
    }
    this.#startTool(tool, out);
    this.#open = undefined;
    tool.closed = true;
    if (tool.unsent) {
      out.push({
        type: "content_block_delta",
        index: tool.blockIndex!,
        delta: { type: "input_json_delta", partial_json: tool.unsent },
      });
    }
    if (result.append) {
      out.push({
        type: "content_block_delta",
        index: tool.blockIndex!,
        delta: { type: "input_json_delta", partial_json: result.append },
      });
    }
    out.push({ type: "content_block_stop", index: tool.blockIndex! });
  }
}

/** The converter as a stream stage, for composition and tests. */
export function convertStream(opts: StreamOptions): TransformStream<SseMessage, StreamEvent> {
  const conv = new StreamConverter(opts);
  return new TransformStream({
    start(controller) {
      for (const e of conv.start()) controller.enqueue(e);
    },
    transform(msg, controller) {
      for (const e of conv.push(msg)) controller.enqueue(e);
    },
    flush(controller) {
      for (const e of conv.finish()) controller.enqueue(e);
    },
  });
}
