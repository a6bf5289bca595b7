/**
 * OpenAI Chat Completions (`POST …/chat/completions`) behind the Protocol interface.
 * https://platform.openai.com/docs/api-reference/chat
 */
import { invalidRequest } from "../../anthropic/errors.ts";
import { stringifyObject } from "../../common/json_text.ts";
import { SchemaTooDeepError } from "../openai/json_schema.ts";
import { type ErrorContext, upstreamErrorInStream, upstreamHttpError } from "../openai/errors.ts";
import { cachedChatCompletionsUrl, upstreamHeaders } from "../openai/profiles.ts";
import { toolSchemas } from "../openai/tool_args.ts";
import type { Exchange, ExchangeInput, Protocol } from "../protocol.ts";
import { modelList } from "../openai/model_list.ts";
import { convertRequest } from "./request.ts";
import { convertResponse, type ResponseOptions } from "./response.ts";
import { StreamConverter } from "./stream.ts";

function exchange(input: ExchangeInput): Exchange {
  const { request, provider, model, info } = input;
  let converted;
  let body: string;
  try {
    converted = convertRequest(request, {
      upstreamModel: model,
      info,
      profile: provider.profile,
      maxTokensLimit: provider.maxTokensLimit,
      extraBody: provider.extraBody,
      thresholds: provider.effortThresholds,
    });
    body = stringifyObject(converted.body, input.jsonMemo);
  } catch (err) {
    if (err instanceof SchemaTooDeepError || err instanceof RangeError) {
      throw invalidRequest("request is nested too deeply (tool schemas or inputs)");
    }
    throw err;
  }
  if (!converted.body.messages.some((m) => m.role !== "system")) {
    // Every block was empty or had no OpenAI form (file ids, server tool blocks): upstreams
    // 400 on [] or answer a lone system prompt. Anthropic refuses empty text blocks too.
    throw invalidRequest(
      converted.dropped.length > 0
        ? `nothing in messages can be sent to the upstream (left out: ${
          converted.dropped.join(", ")
        })`
        : "messages have no content: text content blocks must be non-empty",
    );
  }
  const errorContext: ErrorContext = {
    estimatedInputTokens: input.inputTokensEstimate,
    contextWindow: info.contextWindow,
  };
  const answer: ResponseOptions = {
    messageId: input.messageId,
    model: request.model,
    inputTokensEstimate: input.inputTokensEstimate,
    contextWindow: info.contextWindow,
    toolNames: converted.toolNames,
    stopSequences: request.stop_sequences,
    toolSchemas: toolSchemas(request.tools),
  };
  return {
    url: cachedChatCompletionsUrl(provider, model),
    headers: upstreamHeaders(provider, input.apiKey),
    body,
    dropped: converted.dropped,
    httpError: (status, text, headers) => upstreamHttpError(status, text, headers, errorContext),
    message(json) {
      // Some providers answer 200 with an error object instead of a completion.
      const inBody = upstreamErrorInStream(json, undefined, "in a 200 answer", errorContext);
      if (inBody) throw inBody;
      return convertResponse(json, answer);
    },
    stream: () => new StreamConverter(answer),
  };
}

export const chatProtocol: Protocol = {
  api: "chat",
  exchange,
  modelList,
};
