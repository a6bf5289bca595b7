/**
 * The OpenAI Responses API (`POST …/responses`) behind the Protocol interface.
 * https://platform.openai.com/docs/api-reference/responses
 */
import { hash53 } from "../../common/hash.ts";
import { upstreamHttpError } from "../openai/errors.ts";
import { errorContext } from "../openai/answer_options.ts";
import { convertAndSerialize, nothingToSend } from "../openai/request_body.ts";
import { upstreamHeaders } from "../openai/profiles.ts";
import { toolSchemas } from "../openai/tool_args.ts";
import type { Exchange, ExchangeInput, Protocol } from "../protocol.ts";
import { modelList } from "../openai/model_list.ts";
import type { Provider } from "../provider.ts";
import { responsesEndpoint } from "./endpoint.ts";
import { convertRequest } from "./request.ts";
import { convertResponse, type ResponseOptions } from "./response.ts";
import { StreamConverter } from "./stream.ts";

/** Encrypted reasoning is readable only where it was made: tagged with the upstream's address. */
export function upstreamTag(provider: Pick<Provider, "baseUrl">): string {
  return hash53(provider.baseUrl);
}

/**
 * OpenAI answers reasoning it cannot read (made under another organization or key, or damaged)
 * with a 400, code `invalid_encrypted_content`: "The encrypted content … could not be verified."
 * (e.g. https://github.com/openai/codex/issues/8145). The conversation would fail on every turn
 * from then on, since each resends it: the request goes again without earlier reasoning.
 */
const UNREADABLE_REASONING =
  /invalid_encrypted_content|encrypted content .{0,200}could not be (?:verified|decrypted)/is;

function exchange(input: ExchangeInput, keepReasoning = true): Exchange {
  const { request, provider, info } = input;
  const endpoint = responsesEndpoint(provider, input.model);
  const tag = upstreamTag(provider);
  const { converted, body } = convertAndSerialize(() =>
    convertRequest(request, {
      upstreamModel: endpoint.model,
      info,
      profile: provider.profile,
      upstreamTag: tag,
      maxTokensLimit: provider.maxTokensLimit,
      extraBody: provider.extraBody,
      thresholds: provider.effortThresholds,
      sessionId: input.sessionId,
      keepReasoning,
    }), input.jsonMemo);
  if (converted.body.input.length === 0) throw nothingToSend(converted.dropped);
  const answer: ResponseOptions = {
    messageId: input.messageId,
    model: request.model,
    inputTokensEstimate: input.inputTokensEstimate,
    contextWindow: info.contextWindow,
    toolNames: converted.toolNames,
    toolSchemas: toolSchemas(request.tools),
    upstreamTag: tag,
    thinking: converted.thinking,
  };
  const errors = { ...errorContext(answer), settings: provider.settingNames };
  return {
    url: endpoint.url,
    headers: upstreamHeaders(provider, input.apiKey),
    body,
    dropped: converted.dropped,
    httpError: (status, text, headers) => upstreamHttpError(status, text, headers, errors),
    message: (json) => convertResponse(json, answer),
    stream: () => new StreamConverter(answer),
    resendAfter(status, text) {
      const sentReasoning = converted.body.input.some((item) => item.type === "reasoning");
      if (status !== 400 || !sentReasoning || !UNREADABLE_REASONING.test(text)) return undefined;
      return {
        exchange: exchange(input, false),
        reason:
          "the upstream could not read the reasoning of earlier turns: sending the request without it",
      };
    },
  };
}

export const responsesProtocol: Protocol = {
  api: "responses",
  exchange: (input) => exchange(input),
  // The Responses API has no model list of its own: the provider's `GET /models` is the one.
  modelList,
};
