/**
 * OpenAI Responses API shapes: the request we build (plain types) and loose schemas of what we
 * read back. Reference: https://platform.openai.com/docs/api-reference/responses
 */
import { z } from "zod";

export type InputContent =
  | { type: "input_text"; text: string }
  | { type: "input_image"; image_url: string; detail: "auto" }
  | { type: "input_file"; filename: string; file_data: string };

export type InputItem =
  | { type: "message"; role: "user"; content: InputContent[] }
  | { type: "message"; role: "developer"; content: string }
  | { type: "message"; role: "assistant"; content: string }
  | { type: "function_call"; call_id: string; name: string; arguments: string }
  | { type: "function_call_output"; call_id: string; output: string }
  | {
    type: "reasoning";
    summary: { type: "summary_text"; text: string }[];
    encrypted_content: string;
  };

export type FunctionTool = {
  type: "function";
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
  /** The Responses API defaults this to true, so it is always sent. */
  strict: boolean;
};

export type ResponsesRequest = {
  model: string;
  input: InputItem[];
  instructions?: string;
  max_output_tokens: number;
  temperature?: number;
  top_p?: number;
  stream?: boolean;
  store: false;
  include?: string[];
  tools?: FunctionTool[];
  tool_choice?: "auto" | "required" | "none" | { type: "function"; name: string };
  parallel_tool_calls?: boolean;
  reasoning?: { effort?: string; summary?: "auto" };
  text?: {
    format: { type: "json_schema"; name: string; schema: Record<string, unknown>; strict: boolean };
  };
  safety_identifier?: string;
  prompt_cache_key?: string;
  [extra: string]: unknown;
};

export const ResponsesUsage = z.looseObject({
  input_tokens: z.number().nullish(),
  input_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
  output_tokens: z.number().nullish(),
  output_tokens_details: z.looseObject({ reasoning_tokens: z.number().nullish() }).nullish(),
});
export type ResponsesUsage = z.infer<typeof ResponsesUsage>;

const SummaryPart = z.looseObject({ type: z.string().nullish(), text: z.string().nullish() });

export const OutputItem = z.looseObject({
  type: z.string(),
  id: z.string().nullish(),
  /** `incomplete` when the answer's end cut the item short. */
  status: z.string().nullish(),
  // message
  content: z.array(z.looseObject({
    type: z.string(),
    text: z.string().nullish(),
    refusal: z.string().nullish(),
  })).nullish(),
  // function_call
  call_id: z.string().nullish(),
  name: z.string().nullish(),
  arguments: z.string().nullish(),
  // reasoning
  summary: z.array(SummaryPart).nullish(),
  encrypted_content: z.string().nullish(),
});
export type OutputItem = z.infer<typeof OutputItem>;

export const ResponseObject = z.looseObject({
  id: z.string().nullish(),
  object: z.string().nullish(),
  status: z.string().nullish(),
  error: z.looseObject({
    code: z.union([z.string(), z.number()]).nullish(),
    message: z.string().nullish(),
  }).nullish(),
  incomplete_details: z.looseObject({ reason: z.string().nullish() }).nullish(),
  output: z.array(OutputItem).nullish(),
  usage: ResponsesUsage.nullish(),
});
export type ResponseObject = z.infer<typeof ResponseObject>;
