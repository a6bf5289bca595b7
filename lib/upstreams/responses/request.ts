/**
 * Pure: Anthropic Messages request → OpenAI Responses API request.
 * https://platform.openai.com/docs/api-reference/responses/create
 * No I/O, clock or randomness: the same input always gives the same output.
 */
import { inlineSystemText, systemTexts } from "../openai/system_texts.ts";
import { offeredTools } from "../../anthropic/deferred_tools.ts";
import { withPortablePatterns } from "../openai/schema_patterns.ts";
import { toolChoice } from "../openai/tool_choice.ts";
import type { ContentBlock, MessagesRequest, ToolResultBlock } from "../../anthropic/schema.ts";
import { decodeSignature } from "../../anthropic/signature.ts";
import { decodeClientToolId } from "../../anthropic/tool_ids.ts";
import { hash53 } from "../../common/hash.ts";
import { meetsStrictMode } from "../openai/json_schema.ts";
import { type Profile, usesOpenAIReasoningRules } from "../openai/profiles.ts";
import { shortenToolName, type ToolNameMap } from "../openai/tool_names.ts";
import { clampMaxTokens, type ModelInfo } from "../model_info.ts";
import { DEFAULT_THRESHOLDS, type EffortThresholds, thinkingAsk } from "../thinking.ts";
import { toolResultContent, userContent } from "./content.ts";
import type { FunctionTool, InputContent, InputItem, ResponsesRequest } from "./schema.ts";

export type ConvertContext = {
  /** The model name the body carries (on Azure, the deployment). */
  upstreamModel: string;
  info: ModelInfo;
  profile: Profile;
  /** Tags the encrypted reasoning this upstream makes; only reasoning with this tag goes back. */
  upstreamTag: string;
  maxTokensLimit?: number | undefined;
  extraBody?: Readonly<Record<string, unknown>>;
  thresholds?: EffortThresholds;
  /** Claude Code's session id (`x-claude-code-session-id`), for the upstream's prompt cache. */
  sessionId?: string | undefined;
  /** False: earlier turns' reasoning is left out too (the upstream could not read it). */
  keepReasoning?: boolean;
};

export type Converted = {
  body: ResponsesRequest;
  /** upstream tool name → client tool name, for names that had to be shortened. */
  toolNames: ToolNameMap;
  /** Block and tool types (and request fields) with no Responses form that were left out. */
  dropped: string[];
  /** The client asked for thinking: reasoning items become thinking blocks. */
  thinking: boolean;
};

/** The API refuses `max_output_tokens` below 16 ("Expected a value >= 16"). */
const MIN_OUTPUT_TOKENS = 16;
/** `safety_identifier` and `prompt_cache_key` are documented up to 64 characters. */
const MAX_ID = 64;

type ConvState = {
  dropped: Set<string>;
  toolName: (name: string) => string;
  /** Call ids already in the input: a repeated one (an edited history) is made unique. */
  callIds: Set<string>;
  /** Encrypted reasoning with this tag goes back; undefined: none does. */
  upstreamTag: string | undefined;
};

export function convertRequest(req: MessagesRequest, ctx: ConvertContext): Converted {
  const { profile, info } = ctx;
  const toolNames = new Map<string, string>();
  const state: ConvState = {
    dropped: new Set(),
    toolName: (name) => {
      const short = shortenToolName(name);
      if (short !== name) toolNames.set(short, name);
      return short;
    },
    upstreamTag: ctx.keepReasoning === false ? undefined : ctx.upstreamTag,
    callIds: new Set(),
  };

  const instructions = systemTexts(req.system, state.dropped);
  const input = convertMessages(req, instructions, state, profile);
  const maxTokens = clampMaxTokens(req.max_tokens, info, ctx.maxTokensLimit);
  const body: ResponsesRequest = {
    model: ctx.upstreamModel,
    input,
    max_output_tokens: Math.max(MIN_OUTPUT_TOKENS, maxTokens),
    // Nothing is kept upstream: the conversation, reasoning included, travels in each request.
    store: false,
  };
  if (instructions.length > 0) body.instructions = instructions.join("\n\n");

  const openaiReasoning = usesOpenAIReasoningRules(info, profile);
  const ask = thinkingAsk(req, ctx.thresholds ?? DEFAULT_THRESHOLDS);
  // Without thinking asked for, the client gets no thinking blocks (as from Anthropic), so there
  // is no reasoning to carry to the next turn either.
  if (info.reasoning && ask.on) {
    // Reasoning items come back encrypted (store is false) so they can be sent again next turn.
    body.include = ["reasoning.encrypted_content"];
    body.reasoning = { effort: effortFor(ctx.upstreamModel, ask.effort), summary: "auto" };
  }
  // o-series and gpt-5 reject non-default sampling, except gpt-5.1+ with effort "none".
  const samplingAllowed = !openaiReasoning || (info.acceptsEffortNone && !body.reasoning);
  if (samplingAllowed) {
    if (req.temperature !== undefined) body.temperature = req.temperature;
    if (req.top_p !== undefined) body.top_p = req.top_p;
  }
  // The Responses API has no stop sequences.
  if (req.stop_sequences?.length) state.dropped.add("field:stop_sequences");
  if (req.stream) body.stream = true;
  const userId = req.metadata?.user_id;
  if (userId) body.safety_identifier = `u_${hash53(userId)}`;
  if (ctx.sessionId) {
    body.prompt_cache_key = ctx.sessionId.length <= MAX_ID
      ? ctx.sessionId
      : `s_${hash53(ctx.sessionId)}`;
  }

  const tools = convertTools(req, state);
  if (tools.length > 0) {
    body.tools = tools;
    const choice = req.tool_choice;
    if (choice) {
      const chosen = toolChoice(choice, state.toolName, (n) => tools.some((t) => t.name === n));
      body.tool_choice = typeof chosen === "string" ? chosen : { type: "function", ...chosen };
      if (choice.disable_parallel_tool_use && info.parallelToolCalls) {
        body.parallel_tool_calls = false;
      }
    }
  }

  const format = req.output_config?.format;
  if (format) {
    body.text = {
      format: {
        type: "json_schema",
        name: "output",
        schema: format.schema,
        strict: meetsStrictMode(format.schema),
      },
    };
  }
  // EXTRA_BODY is the operator's explicit word: sent as given.
  if (ctx.extraBody) Object.assign(body, ctx.extraBody);
  return { body, toolNames, dropped: [...state.dropped], thinking: ask.on };
}

/** gpt-5-pro reasons at high effort only and answers any other with a 400. */
function effortFor(model: string, effort: string): string {
  return /(^|\/)gpt-5-pro\b/i.test(model) ? "high" : effort;
}

function convertMessages(
  req: MessagesRequest,
  instructions: string[],
  state: ConvState,
  profile: Profile,
): InputItem[] {
  const out: InputItem[] = [];
  // Calls of the latest assistant turn that still wait for their output.
  let pending: Call[] = [];
  const closePending = () => {
    // The API refuses a function_call without a function_call_output answering it.
    for (const call of pending) {
      out.push({
        type: "function_call_output",
        call_id: call.callId,
        output: "(no result: the tool call was interrupted)",
      });
    }
    pending = [];
  };

  for (const message of req.messages) {
    if (message.role === "system") {
      const text = inlineSystemText(message.content);
      if (!text.trim()) continue;
      if (profile.midConversationSystem && out.length > 0) {
        closePending();
        out.push({ type: "message", role: "developer", content: text });
      } else {
        instructions.push(text);
      }
      continue;
    }
    if (message.role === "assistant") {
      closePending();
      pending = convertAssistant(message.content, state, out);
      continue;
    }
    if (typeof message.content === "string") {
      closePending();
      if (message.content) {
        out.push({
          type: "message",
          role: "user",
          content: [{ type: "input_text", text: message.content }],
        });
      }
      continue;
    }
    const results = message.content.filter((b): b is ToolResultBlock => b.type === "tool_result");
    const parts: InputContent[] = [];
    for (const result of results) {
      const id = decodeClientToolId(result.tool_use_id).id;
      const { text, attachments } = toolResultContent(result, state.dropped);
      const index = pending.findIndex((call) => call.clientId === id);
      if (index >= 0) {
        const [call] = pending.splice(index, 1);
        out.push({ type: "function_call_output", call_id: call!.callId, output: text });
      } else {
        // A result for a call not just made (history edited or compacted).
        parts.push({ type: "input_text", text: `Tool result for ${result.tool_use_id}:\n${text}` });
      }
      if (attachments.length > 0) {
        parts.push({
          type: "input_text",
          text: `Images returned by tool call ${result.tool_use_id}:`,
        });
        parts.push(...attachments);
      }
    }
    closePending();
    for (const block of message.content) {
      if (block.type !== "tool_result") parts.push(...userContent(block, state.dropped));
    }
    if (parts.length > 0) out.push({ type: "message", role: "user", content: parts });
  }
  closePending();
  return out;
}

/** A call waiting for its output: the id the client knows, and the one sent upstream. */
type Call = { clientId: string; callId: string };

/** The id to send for a call: the client's, unless an earlier call already took it. */
function uniqueCallId(id: string, used: Set<string>): string {
  let callId = id;
  for (let n = 2; used.has(callId); n++) callId = `${id}_${n}`;
  used.add(callId);
  return callId;
}

/**
 * An assistant turn → its items, in order: reasoning, text, function calls. Returns the calls
 * that wait for outputs.
 */
function convertAssistant(
  content: string | ContentBlock[],
  state: ConvState,
  out: InputItem[],
): Call[] {
  if (typeof content === "string") {
    if (content) out.push({ type: "message", role: "assistant", content });
    return [];
  }
  const calls: Call[] = [];
  let texts: string[] = [];
  const flushText = () => {
    if (texts.length > 0) {
      out.push({ type: "message", role: "assistant", content: texts.join("\n\n") });
    }
    texts = [];
  };
  for (const block of content) {
    switch (block.type) {
      case "text":
        if (block.text) texts.push(block.text);
        break;
      case "tool_use": {
        flushText();
        const id = decodeClientToolId(block.id).id;
        const callId = uniqueCallId(id, state.callIds);
        out.push({
          type: "function_call",
          call_id: callId,
          name: state.toolName(block.name),
          arguments: JSON.stringify(block.input ?? {}),
        });
        calls.push({ clientId: id, callId });
        break;
      }
      case "thinking": {
        // Only reasoning this upstream made can go back; any other thinking (Anthropic's, another
        // provider's, a Chat Completions model's) is dropped, never sent as text.
        const encrypted = decodeSignature(block.signature).encrypted_reasoning;
        if (encrypted === undefined || encrypted.upstream !== state.upstreamTag) {
          state.dropped.add("assistant:thinking");
          break;
        }
        flushText();
        out.push({
          type: "reasoning",
          summary: block.thinking ? [{ type: "summary_text", text: block.thinking }] : [],
          encrypted_content: encrypted.content,
        });
        break;
      }
      case "redacted_thinking":
        state.dropped.add("assistant:redacted_thinking");
        break;
      default:
        state.dropped.add(
          `assistant:${block.type === "unknown" ? block.original_type : block.type}`,
        );
    }
  }
  flushText();
  return calls;
}

function convertTools(req: MessagesRequest, state: ConvState): FunctionTool[] {
  const out: FunctionTool[] = [];
  for (const tool of offeredTools(req)) {
    // Server tools (web_search_20250305, …) run at Anthropic; this upstream cannot.
    if (!tool.input_schema) {
      state.dropped.add(`tool:${tool.type ?? tool.name}`);
      continue;
    }
    const parameters = withPortablePatterns(tool.input_schema);
    const fn: FunctionTool = {
      type: "function",
      name: state.toolName(tool.name),
      parameters,
      strict: meetsStrictMode(parameters),
    };
    if (tool.description) fn.description = tool.description;
    out.push(fn);
  }
  return out;
}
