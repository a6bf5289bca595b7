/**
 * `POST /v1/messages/count_tokens`: counted here with the upstream model's tokenizer, or, for an
 * upstream whose API counts tokens itself (Anthropic-speaking ones), asked there and passed on.
 */
import { invalidRequest, ProxyError } from "../anthropic/errors.ts";
import { CountTokensRequest, type MessagesRequest } from "../anthropic/schema.ts";
import { compiled } from "../common/compiled_schema.ts";
import { formatZodError } from "../anthropic/validation.ts";
import { type Target, targetName } from "../routing/router.ts";
import { countTokens, estimateInputTokens, loadTokenizer } from "../tokens/count.ts";
import { modelInfo } from "../upstreams/model_info.ts";
import type { Protocol } from "../upstreams/protocol.ts";
import { chooseApi } from "../upstreams/api_choice.ts";
import { protocolFor } from "../upstreams/protocols.ts";
import { callUpstream, readAnswer } from "../upstreams/transport.ts";
import type { RequestContext } from "./context.ts";
import { parseJsonBody } from "./json_body.ts";
import { json } from "./json_response.ts";

const countTokensRequest = compiled(CountTokensRequest);

export async function handleCountTokens(req: Request, ctx: RequestContext): Promise<Response> {
  const body = await parseJsonBody(req, ctx.config);
  const parsed = countTokensRequest().safeParse(body);
  if (!parsed.success) throw invalidRequest(formatZodError(parsed.error));
  const request = parsed.data;
  // The same shape as a Messages request; max_tokens plays no part in counting or routing.
  const asMessage: MessagesRequest = { ...request, max_tokens: request.max_tokens ?? 1 };
  const target = ctx.router.route(request, () => estimateInputTokens(asMessage, request.model))
    .chain[0]!;
  const upstreamModel = target.model;
  ctx.summary.model = `${request.model} -> ${upstreamModel}`;
  const protocol = protocolFor(chooseApi(target.provider, upstreamModel, ctx.responsesModels));
  if (protocol.countTokens) {
    ctx.summary.target = targetName(target);
    return await countAtUpstream(req, body, asMessage, ctx, target, protocol.countTokens);
  }
  await loadTokenizer(upstreamModel);
  try {
    const inputTokens = countTokens(request, upstreamModel);
    ctx.summary.inputTokens = inputTokens;
    return json({ input_tokens: inputTokens });
  } catch (err) {
    if (err instanceof RangeError) throw invalidRequest("request is nested too deeply");
    throw err;
  }
}

async function countAtUpstream(
  req: Request,
  body: unknown,
  request: MessagesRequest,
  ctx: RequestContext,
  target: Target,
  count: NonNullable<Protocol["countTokens"]>,
): Promise<Response> {
  const { provider, model } = target;
  const call = count({
    request,
    provider,
    model,
    info: modelInfo(model, provider),
    apiKey: provider.apiKey,
    messageId: "",
    inputTokensEstimate: 0,
    jsonMemo: ctx.jsonMemo,
    clientBody: body,
    clientHeaders: req.headers,
  });
  ctx.summary.upstreamCalled = true;
  const upstream = await callUpstream({
    url: call.url,
    headers: call.headers,
    body: call.body,
    clientSignal: req.signal,
    firstByteTimeoutMs: provider.nonStreamFirstByteTimeoutMs,
    totalTimeoutMs: provider.requestTimeoutMs,
    totalSetting: provider.settingNames?.requestTimeout,
    maxRetries: provider.maxRetries,
    retryMaxDelayMs: provider.retryMaxDelayMs,
    httpError: call.httpError,
  }, { fetch: ctx.fetch, log: ctx.log, open: ctx.openStreams });
  // A timeout or the shutdown ends it with its own error, as for a message.
  const text = await readAnswer(upstream);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new ProxyError(502, "api_error", "upstream count_tokens answer is not JSON");
  }
  return new Response(call.read(answer), { headers: { "content-type": "application/json" } });
}
