/**
 * What converting an OpenAI-style answer (whole or streamed) needs from the request, whatever
 * the protocol; each protocol adds its own fields.
 */
import type { ErrorContext } from "./errors.ts";
import type { ToolNameMap } from "./tool_names.ts";

export type AnswerOptions = {
  messageId: string;
  /** The model name the client asked for: answers always carry it. */
  model: string;
  inputTokensEstimate: number;
  /** The upstream model's context window, if known: the limit a context overflow reports. */
  contextWindow?: number | undefined;
  toolNames: ToolNameMap;
  /** Client tool name → input schema: repaired arguments are checked against it. */
  toolSchemas?: ReadonlyMap<string, unknown>;
};

/** What an upstream error needs to be told as a context overflow the client understands. */
export const errorContext = (opts: AnswerOptions): ErrorContext => ({
  estimatedInputTokens: opts.inputTokensEstimate,
  contextWindow: opts.contextWindow,
});
