/**
 * OpenAI Chat Completions (`POST …/chat/completions`) behind the Protocol interface.
 * https://platform.openai.com/docs/api-reference/chat
 */
import { convertAndSerialize, nothingToSend } from "../openai/request_body.ts";
import { upstreamErrorInBody, upstreamHttpError } from "../openai/errors.ts";
import { errorContext } from "../openai/answer_options.ts";
import { cachedChatCompletionsUrl, upstreamHeaders } from "../openai/profiles.ts";
import { toolSchemas } from "../openai/tool_args.ts";
import type { Exchange, ExchangeInput, Protocol } from "../protocol.ts";
import { modelList } from "../openai/model_list.ts";
import { convertRequest } from "./request.ts";
import { convertResponse, type ResponseOptions } from "./response.ts";
import { StreamConverter } from "./stream.ts";

function exchange(input: ExchangeInput): Exchange {
  const { request, provider, model, info } = input;
  const { converted, body } = convertAndSerialize(() =>
    convertRequest(request, {
      upstreamModel: model,
      info,
      profile: provider.profile,
      maxTokensLimit: provider.maxTokensLimit,
      extraBody: provider.extraBody,
      thresholds: provider.effortThresholds,
    }), input.jsonMemo);
  // Upstreams answer a lone system prompt, which is not an answer to the conversation.
  if (!converted.body.messages.some((m) => m.role !== "system")) {
    throw nothingToSend(converted.dropped);
  }
  const answer: ResponseOptions = {
    messageId: input.messageId,
    model: request.model,
    inputTokensEstimate: input.inputTokensEstimate,
    contextWindow: info.contextWindow,
    toolNames: converted.toolNames,
    stopSequences: request.stop_sequences,
    toolSchemas: toolSchemas(request.tools),
  };
  const errors = { ...errorContext(answer), settings: provider.settingNames };
  return {
    url: cachedChatCompletionsUrl(provider, model),
    headers: upstreamHeaders(provider, input.apiKey),
    body,
    dropped: converted.dropped,
    httpError: (status, text, headers) => upstreamHttpError(status, text, headers, errors),
    message(json) {
      // Some providers answer 200 with an error object instead of a completion.
      const inBody = upstreamErrorInBody(json, errors);
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
