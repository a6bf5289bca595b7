/**
 * OpenAI Chat Completions shapes: the request we build (plain types) and loose schemas
 * of what we read back. Reference: https://platform.openai.com/docs/api-reference/chat
 */
import { z } from "zod";

export type OpenAIContentPart =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string } }
  | { type: "file"; file: { filename: string; file_data: string } };

export type OpenAIToolCall = {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
  /** Gemini's thought signature rides here and must come back unchanged. */
  extra_content?: unknown;
};

export type OpenAIMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string | OpenAIContentPart[] }
  | {
    role: "assistant";
    content: string | null;
    tool_calls?: OpenAIToolCall[];
    reasoning_content?: string;
    reasoning_details?: unknown[];
  }
  | { role: "tool"; tool_call_id: string; content: string };

export type OpenAITool = {
  type: "function";
  function: { name: string; description?: string; parameters: Record<string, unknown> };
};

export type OpenAIRequest = {
  model: string;
  messages: OpenAIMessage[];
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  stream?: boolean;
  stream_options?: { include_usage: boolean };
  tools?: OpenAITool[];
  tool_choice?: "auto" | "required" | "none" | { type: "function"; function: { name: string } };
  parallel_tool_calls?: boolean;
  user?: string;
  response_format?:
    | { type: "json_object" }
    | {
      type: "json_schema";
      json_schema: { name: string; schema: Record<string, unknown>; strict?: boolean };
    };
  reasoning_effort?: string;
  reasoning?: { effort?: string; max_tokens?: number };
  thinking?: { type: "enabled" | "disabled" };
  [extra: string]: unknown;
};

const Usage = z.looseObject({
  prompt_tokens: z.number().nullish(),
  completion_tokens: z.number().nullish(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
  // DeepSeek reports cache hits here instead.
  prompt_cache_hit_tokens: z.number().nullish(),
});
export type OpenAIUsage = z.infer<typeof Usage>;

const FunctionCall = z.looseObject({
  name: z.string().nullish(),
  arguments: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
});

const ToolCall = z.looseObject({
  id: z.string().nullish(),
  type: z.string().nullish(),
  function: FunctionCall.nullish(),
  extra_content: z.unknown().optional(),
});

const ReasoningFields = {
  reasoning_content: z.string().nullish(),
  reasoning: z.string().nullish(),
  reasoning_details: z.array(z.unknown()).nullish(),
};

export const ChatCompletion = z.looseObject({
  id: z.string().nullish(),
  choices: z.array(z.looseObject({
    message: z.looseObject({
      // Magistral sends a list of thinking/text chunks instead of a string.
      content: z.union([z.string(), z.array(z.unknown())]).nullish(),
      refusal: z.string().nullish(),
      tool_calls: z.array(ToolCall).nullish(),
      // The deprecated single call of the pre-tools API, still sent by some servers.
      function_call: FunctionCall.nullish(),
      ...ReasoningFields,
    }).nullish(),
    finish_reason: z.string().nullish(),
  })),
  usage: Usage.nullish(),
});
export type ChatCompletion = z.infer<typeof ChatCompletion>;

export const ChunkToolCall = ToolCall.extend({ index: z.number().nullish() });

export const ChatCompletionChunk = z.looseObject({
  choices: z.array(z.looseObject({
    index: z.number().nullish(),
    delta: z.looseObject({
      // Magistral sends a list of thinking/text chunks instead of a string.
      content: z.union([z.string(), z.array(z.unknown())]).nullish(),
      refusal: z.string().nullish(),
      tool_calls: z.array(ChunkToolCall).nullish(),
      function_call: FunctionCall.nullish(),
      ...ReasoningFields,
    }).nullish(),
    finish_reason: z.string().nullish(),
  })).nullish(),
  usage: Usage.nullish(),
  error: z.unknown().optional(),
});
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunk>;

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
const optString = (v: unknown) => v === undefined || v === null || typeof v === "string";
const optNumber = (v: unknown) => v === undefined || v === null || typeof v === "number";

/**
 * Hand-checked equivalent of `ChatCompletionChunk.safeParse` for the per-chunk hot path: zod
 * cost ~16 µs per chunk under Deno (most of a stream's conversion time), this ~0.1 µs.
 * It checks the same fields with the same types; a test keeps the two in agreement.
 */
export function readChunk(json: unknown): ChatCompletionChunk | undefined {
  if (!isObj(json)) return undefined;
  const usage = json.usage;
  if (usage !== undefined && usage !== null) {
    if (!isObj(usage) || !optNumber(usage.prompt_tokens) || !optNumber(usage.completion_tokens)) {
      return undefined;
    }
    const details = usage.prompt_tokens_details;
    if (
      details !== undefined && details !== null &&
      (!isObj(details) || !optNumber(details.cached_tokens))
    ) {
      return undefined;
    }
    if (!optNumber(usage.prompt_cache_hit_tokens)) return undefined;
  }
  const choices = json.choices;
  if (choices === undefined || choices === null) return json as ChatCompletionChunk;
  if (!Array.isArray(choices)) return undefined;
  for (const choice of choices) {
    if (!isObj(choice) || !optNumber(choice.index) || !optString(choice.finish_reason)) {
      return undefined;
    }
    const delta = choice.delta;
    if (delta === undefined || delta === null) continue;
    if (!isObj(delta)) return undefined;
    if (
      !(optString(delta.content) || Array.isArray(delta.content)) || !optString(delta.refusal) ||
      !optString(delta.reasoning_content) ||
      !optString(delta.reasoning)
    ) return undefined;
    const details = delta.reasoning_details;
    if (details !== undefined && details !== null && !Array.isArray(details)) return undefined;
    if (!optFunction(delta.function_call)) return undefined;
    const calls = delta.tool_calls;
    if (calls === undefined || calls === null) continue;
    if (!Array.isArray(calls)) return undefined;
    for (const call of calls) {
      if (!isObj(call) || !optString(call.id) || !optString(call.type) || !optNumber(call.index)) {
        return undefined;
      }
      if (!optFunction(call.function)) return undefined;
    }
  }
  return json as ChatCompletionChunk;
}

/** `FunctionCall.nullish()`, by hand. */
function optFunction(fn: unknown): boolean {
  if (fn === undefined || fn === null) return true;
  if (!isObj(fn) || !optString(fn.name)) return false;
  const args = fn.arguments;
  return args === undefined || args === null || typeof args === "string" || isObj(args);
}
