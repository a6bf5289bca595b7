/**
 * Pure: Anthropic Messages request → OpenAI Chat Completions request.
 * No I/O, clock or randomness: the same input always gives the same output.
 */
import type { ContentBlock, MessagesRequest, ToolResultBlock } from "../../anthropic/schema.ts";
import { toolResultContent, userParts } from "./content.ts";
import { hash53 } from "../../common/hash.ts";
import { meetsStrictMode, simplifySchema } from "../openai/json_schema.ts";
import { clampMaxTokens, type ModelInfo } from "../model_info.ts";
import type {
  OpenAIContentPart,
  OpenAIMessage,
  OpenAIRequest,
  OpenAITool,
  OpenAIToolCall,
} from "./schema.ts";
import { type Profile, usesOpenAIReasoningRules } from "../openai/profiles.ts";
import { reasoningFields } from "./reasoning.ts";
import { DEFAULT_THRESHOLDS, type EffortThresholds, thinkingAsk } from "../thinking.ts";
import { decodeSignature } from "../../anthropic/signature.ts";
import { shortenToolName, type ToolNameMap } from "../openai/tool_names.ts";
import { decodeClientToolId, makeToolIdMapper } from "../../anthropic/tool_ids.ts";
import { inlineSystemText, systemTexts } from "../openai/system_texts.ts";
import { offeredTools } from "../../anthropic/deferred_tools.ts";
import { withPortablePatterns } from "../openai/schema_patterns.ts";
import { toolChoice } from "../openai/tool_choice.ts";
import { invalidRequest } from "../../anthropic/errors.ts";

export type ConvertContext = {
  upstreamModel: string;
  info: ModelInfo;
  profile: Profile;
  maxTokensLimit?: number | undefined;
  extraBody?: Readonly<Record<string, unknown>>;
  thresholds?: EffortThresholds;
};

export type Converted = {
  body: OpenAIRequest;
  /** upstream tool name → client tool name, for names that had to be shortened. */
  toolNames: ToolNameMap;
  /** Block and tool types that have no OpenAI equivalent and were left out. */
  dropped: string[];
};

const OPENAI_MAX_STOP = 4;
const OPENAI_MAX_USER = 64;

type ConvState = {
  dropped: Set<string>;
  toolId: (id: string) => string;
  toolName: (name: string) => string;
};

export function convertRequest(req: MessagesRequest, ctx: ConvertContext): Converted {
  const { profile, info } = ctx;
  const toolNames = new Map<string, string>();
  const state: ConvState = {
    dropped: new Set(),
    toolId: ((short) => (id: string) => short(decodeClientToolId(id).id))(
      makeToolIdMapper(profile.shortToolIds),
    ),
    toolName: (name) => {
      const short = shortenToolName(name);
      if (short !== name) toolNames.set(short, name);
      return short;
    },
  };

  const systemParts = systemTexts(req.system, state.dropped);
  const messages = convertMessages(req, systemParts, state, profile);
  const maxTokens = clampMaxTokens(req.max_tokens, info, ctx.maxTokensLimit);
  const body: OpenAIRequest = { model: ctx.upstreamModel, messages };

  const openaiReasoning = usesOpenAIReasoningRules(info, profile);
  if (openaiReasoning || profile.maxTokensField === "max_completion_tokens") {
    body.max_completion_tokens = maxTokens;
  } else body.max_tokens = maxTokens;

  const ask = thinkingAsk(req, ctx.thresholds ?? DEFAULT_THRESHOLDS);
  const reasoning = reasoningFields(ask, info, profile, maxTokens, {
    stream: req.stream === true,
    model: ctx.upstreamModel,
    forcedTool: (req.tool_choice?.type === "any" || req.tool_choice?.type === "tool") &&
      (req.tools?.length ?? 0) > 0,
  });
  Object.assign(body, reasoning);

  // o-series and gpt-5 reject non-default sampling, except gpt-5.1+ with effort "none".
  const samplingAllowed = !openaiReasoning ||
    (info.acceptsEffortNone && body.reasoning_effort === undefined);
  if (samplingAllowed) {
    if (req.temperature !== undefined) {
      body.temperature = Math.max(req.temperature, profile.minTemperature ?? req.temperature);
    }
    if (req.top_p !== undefined) body.top_p = req.top_p;
  }
  if (req.stop_sequences?.length && !openaiReasoning) {
    body.stop = req.stop_sequences.slice(0, OPENAI_MAX_STOP);
  }
  if (req.stream) {
    body.stream = true;
    if (profile.streamUsageOption) body.stream_options = { include_usage: true };
  }
  const userId = req.metadata?.user_id;
  if (userId) {
    body.user = userId.length <= OPENAI_MAX_USER ? userId : `u_${hash53(userId)}`;
  }

  const tools = convertTools(req, state, profile);
  if (profile.maxTools !== undefined && tools.length > profile.maxTools) {
    // The upstream's own answer would be opaque (or, on some, a silently truncated tool list).
    throw invalidRequest(
      `this request has ${tools.length} tools, but ${profile.name} accepts at most ` +
        `${profile.maxTools} tools per request; disable some tools or MCP servers`,
    );
  }
  if (tools.length > 0) {
    body.tools = tools;
    if (req.stream && profile.toolStreamField) body.tool_stream = true;
    const choice = req.tool_choice;
    if (choice) {
      const offered = (name: string) => tools.some((t) => t.function.name === name);
      const chosen = toolChoice(choice, state.toolName, offered);
      body.tool_choice = typeof chosen === "string"
        ? chosen
        : { type: "function", function: chosen };
      if (choice.disable_parallel_tool_use && info.parallelToolCalls) {
        body.parallel_tool_calls = false;
      }
      if (profile.toolChoiceAutoOnly && body.tool_choice !== undefined) {
        // GLM takes only "auto": a forced call cannot be said there, and "none" is said by
        // offering no tools at all.
        if (body.tool_choice === "none") {
          delete body.tools;
          delete body.tool_choice;
        } else body.tool_choice = "auto";
      }
    }
  }

  const format = req.output_config?.format;
  if (format) {
    if (profile.jsonSchema) {
      const strict = meetsStrictMode(format.schema);
      body.response_format = {
        type: "json_schema",
        json_schema: { name: "output", schema: format.schema, ...(strict ? { strict } : {}) },
      };
    } else {
      // json_object mode needs the word JSON in the prompt and says nothing of the shape.
      body.response_format = { type: "json_object" };
      appendSystem(
        messages,
        `Respond with only a JSON object that matches this JSON schema:\n${
          JSON.stringify(format.schema)
        }`,
      );
    }
  }

  if (profile.allowedFields) {
    for (const key of Object.keys(body)) if (!profile.allowedFields.has(key)) delete body[key];
  }
  if (profile.rejectedFields) {
    for (const key of Object.keys(body)) if (profile.rejectedFields.has(key)) delete body[key];
  }
  // EXTRA_BODY is the operator's explicit word: sent as given, past the allow-list, so a field the
  // provider does not know comes back as its own error naming it instead of vanishing.
  if (ctx.extraBody) Object.assign(body, ctx.extraBody);
  return { body, toolNames, dropped: [...state.dropped] };
}

function appendSystem(messages: OpenAIMessage[], text: string): void {
  const first = messages[0];
  if (first?.role === "system") first.content = `${first.content}\n\n${text}`;
  else messages.unshift({ role: "system", content: text });
}

function convertMessages(
  req: MessagesRequest,
  systemParts: string[],
  state: ConvState,
  profile: Profile,
): OpenAIMessage[] {
  const out: OpenAIMessage[] = [];
  const leading = [...systemParts];
  // Tool calls of the latest assistant message that still wait for a result.
  let pending: string[] = [];

  const closePending = () => {
    // OpenAI rejects an assistant tool call without a tool message answering it.
    for (const id of pending) {
      out.push({
        role: "tool",
        tool_call_id: id,
        content: "(no result: the tool call was interrupted)",
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
        out.push({ role: "system", content: text });
      } else {
        leading.push(text);
      }
      continue;
    }
    if (message.role === "assistant") {
      closePending();
      const assistant = convertAssistant(message.content, state, profile);
      if (assistant) {
        out.push(assistant);
        pending = assistant.role === "assistant" && assistant.tool_calls
          ? assistant.tool_calls.map((c) => c.id)
          : [];
      }
      continue;
    }
    // user
    if (typeof message.content === "string") {
      closePending();
      out.push({ role: "user", content: message.content });
      continue;
    }
    const results = message.content.filter((b): b is ToolResultBlock => b.type === "tool_result");
    const others = message.content.filter((b) => b.type !== "tool_result");
    const parts: OpenAIContentPart[] = [];
    for (const result of results) {
      const id = state.toolId(result.tool_use_id);
      const { text, images } = toolResultContent(result, state.dropped);
      const index = pending.indexOf(id);
      if (index >= 0) {
        pending.splice(index, 1);
        out.push({ role: "tool", tool_call_id: id, content: text });
      } else {
        // A result for a call we did not just send (history edited or compacted).
        parts.push({ type: "text", text: `Tool result for ${result.tool_use_id}:\n${text}` });
      }
      if (images.length > 0) {
        parts.push({ type: "text", text: `Images returned by tool call ${result.tool_use_id}:` });
        parts.push(...images);
      }
    }
    closePending();
    for (const block of others) parts.push(...userParts(block, state.dropped));
    if (parts.length > 0) out.push({ role: "user", content: simplifyParts(parts) });
  }
  closePending();
  if (leading.length > 0) out.unshift({ role: "system", content: leading.join("\n\n") });
  return out;
}

/** A single text part is sent as a plain string: the widest-supported form. */
function simplifyParts(parts: OpenAIContentPart[]): string | OpenAIContentPart[] {
  if (parts.every((p) => p.type === "text")) {
    return parts.map((p) => (p as { text: string }).text).join("\n\n");
  }
  return parts;
}

function convertAssistant(
  content: string | ContentBlock[],
  state: ConvState,
  profile: Profile,
): OpenAIMessage | undefined {
  if (typeof content === "string") {
    return profile.echoReasoningContent
      ? { role: "assistant", content, reasoning_content: "" }
      : { role: "assistant", content };
  }
  const texts: string[] = [];
  const calls: OpenAIToolCall[] = [];
  const reasoning: string[] = [];
  let reasoningDetails: unknown[] | undefined;
  for (const block of content) {
    switch (block.type) {
      case "text":
        if (block.text) texts.push(block.text);
        break;
      case "tool_use": {
        const call: OpenAIToolCall = {
          id: state.toolId(block.id),
          type: "function",
          function: {
            name: state.toolName(block.name),
            arguments: JSON.stringify(block.input ?? {}),
          },
        };
        const extra = decodeClientToolId(block.id).extra;
        if (extra !== undefined && profile.toolCallExtraContent) call.extra_content = extra;
        calls.push(call);
        break;
      }
      case "thinking": {
        reasoning.push(block.thinking);
        const payload = decodeSignature(block.signature);
        if (payload.reasoning_details) {
          reasoningDetails = [...(reasoningDetails ?? []), ...payload.reasoning_details];
        }
        break;
      }
      case "redacted_thinking":
        break;
      default:
        state.dropped.add(
          `assistant:${block.type === "unknown" ? block.original_type : block.type}`,
        );
    }
  }
  if (texts.length === 0 && calls.length === 0) return undefined;
  const msg: OpenAIMessage = {
    role: "assistant",
    content: texts.length > 0 ? texts.join("\n\n") : null,
  };
  if (calls.length > 0) msg.tool_calls = calls;
  if (profile.echoReasoningContent) msg.reasoning_content = reasoning.join("");
  if (reasoningDetails && profile.reasoning === "openrouter") {
    msg.reasoning_details = reasoningDetails;
  }
  return msg;
}

function convertTools(req: MessagesRequest, state: ConvState, profile: Profile): OpenAITool[] {
  const out: OpenAITool[] = [];
  for (const tool of offeredTools(req)) {
    // Server tools (web_search_20250305, …) run at Anthropic; an OpenAI upstream cannot.
    if (!tool.input_schema) {
      state.dropped.add(`tool:${tool.type ?? tool.name}`);
      continue;
    }
    const portable = withPortablePatterns(tool.input_schema);
    const parameters = profile.strictSchemas
      ? (simplifySchema(portable) as Record<string, unknown>)
      : portable;
    const fn: OpenAITool["function"] = { name: state.toolName(tool.name), parameters };
    if (tool.description) fn.description = tool.description;
    out.push({ type: "function", function: fn });
  }
  return out;
}
