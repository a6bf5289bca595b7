/** `POST /v1/messages/count_tokens`: counted here, with the upstream model's tokenizer. */
import { invalidRequest } from "../anthropic/errors.ts";
import { CountTokensRequest } from "../anthropic/schema.ts";
import { formatZodError } from "../anthropic/validation.ts";
import { countTokens, loadTokenizer } from "../tokens/count.ts";
import type { RequestContext } from "./context.ts";
import { parseJsonBody } from "./json_body.ts";
import { json } from "./json_response.ts";

export async function handleCountTokens(req: Request, ctx: RequestContext): Promise<Response> {
  const body = await parseJsonBody(req, ctx.config);
  const parsed = CountTokensRequest.safeParse(body);
  if (!parsed.success) throw invalidRequest(formatZodError(parsed.error));
  const upstreamModel = ctx.router.route(parsed.data.model).model;
  ctx.summary.model = `${parsed.data.model} -> ${upstreamModel}`;
  await loadTokenizer(upstreamModel);
  try {
    const inputTokens = countTokens(parsed.data, upstreamModel);
    ctx.summary.inputTokens = inputTokens;
    return json({ input_tokens: inputTokens });
  } catch (err) {
    if (err instanceof RangeError) throw invalidRequest("request is nested too deeply");
    throw err;
  }
}
