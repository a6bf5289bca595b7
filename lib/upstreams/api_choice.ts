/**
 * Which protocol a request goes out with when a provider is set to `auto`: Chat Completions,
 * except for models known to be served only by the Responses API, and except for models whose
 * upstream already answered a Chat Completions request with "use the Responses API".
 */
import { ProxyError } from "../anthropic/errors.ts";
import type { ApiSetting, Provider, UpstreamApi } from "./provider.ts";

/**
 * Models OpenAI serves only on `/v1/responses` (their model pages say "Chat Completions: not
 * supported"): the codex family, the pro reasoning models, deep research and computer use.
 * https://platform.openai.com/docs/models — Azure OpenAI serves the same models the same way
 * (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses).
 */
const RESPONSES_ONLY: readonly RegExp[] = [
  /codex/,
  /^o[13]-pro\b/,
  /^gpt-5(?:\.\d+)?-pro\b/,
  /deep-research/,
  /^computer-use/,
];

/** Only these providers serve the models of the table under these names. */
const TABLE_PROVIDERS: ReadonlySet<string> = new Set(["openai", "azure"]);

function bareName(model: string): string {
  const lower = model.toLowerCase();
  return lower.slice(lower.lastIndexOf("/") + 1);
}

/** Whether the table says this model needs the Responses API on this provider. */
export function knownResponsesOnly(provider: Pick<Provider, "profile">, model: string): boolean {
  if (!TABLE_PROVIDERS.has(provider.profile.name)) return false;
  const name = bareName(model);
  return RESPONSES_ONLY.some((re) => re.test(name));
}

/**
 * How upstreams say a model needs the Responses API, to a Chat Completions request:
 * - OpenAI (404 or 400): "This model is only supported in v1/responses and not in
 *   v1/chat/completions." (e.g. https://github.com/docker/docker-agent/issues/313)
 * - Azure OpenAI (400, code OperationNotSupported): "The chatCompletion operation does not work
 *   with the specified model, gpt-5-codex. Please choose different model and try again. …"
 *   (e.g. https://github.com/langchain-ai/langchain-azure/issues/228)
 * - gateways in front of either: "… /v1/chat/completions is not supported. Please use
 *   /v1/responses."
 */
const WORDINGS: readonly RegExp[] = [
  /only supported in \/?v1\/responses/i,
  /chatCompletion operation does not work with the specified model/i,
  /chat\/completions is not supported\.? please use \/?(?:v1\/)?responses/i,
];

/** Whether an HTTP error answer to a Chat Completions request asks for the Responses API. */
export function asksForResponsesApi(status: number, body: string): boolean {
  if (status !== 400 && status !== 404) return false;
  return WORDINGS.some((re) => re.test(body));
}

/**
 * The client-facing error of an upstream that wants the Responses API, kept with the fact, so
 * that `auto` can send the request again and `chat` can say which setting helps.
 */
export class ResponsesApiWanted extends ProxyError {
  constructor(readonly upstream: ProxyError) {
    super(upstream.status, upstream.type, upstream.message, upstream.headers);
  }
}

/** The same error, with the setting that makes the model work. */
export function withApiHint(err: ResponsesApiWanted): ProxyError {
  return new ProxyError(
    err.status,
    err.type,
    `${err.message} (this model needs the Responses API: set OPENAI_API=auto or responses)`,
    err.headers,
  );
}

/** How many models are remembered per process; the oldest is forgotten first. */
const MAX_REMEMBERED = 512;

/**
 * Models an upstream said need the Responses API, per provider. Per process and bounded: losing
 * an entry costs one more refused Chat Completions request, nothing else.
 */
export class ResponsesModels {
  readonly #keys = new Set<string>();

  constructor(readonly maxEntries = MAX_REMEMBERED) {}

  #key(provider: Pick<Provider, "name">, model: string): string {
    return `${provider.name}\u0000${model}`;
  }

  has(provider: Pick<Provider, "name">, model: string): boolean {
    return this.#keys.has(this.#key(provider, model));
  }

  remember(provider: Pick<Provider, "name">, model: string): void {
    const key = this.#key(provider, model);
    this.#keys.delete(key);
    this.#keys.add(key);
    while (this.#keys.size > this.maxEntries) {
      const oldest = this.#keys.values().next();
      if (oldest.done) break;
      this.#keys.delete(oldest.value);
    }
  }

  get size(): number {
    return this.#keys.size;
  }
}

/** The protocol for one request to `model` on `provider`. */
export function chooseApi(
  provider: Pick<Provider, "api" | "name" | "profile">,
  model: string,
  remembered: ResponsesModels,
): UpstreamApi {
  if (provider.api !== "auto") return provider.api;
  if (knownResponsesOnly(provider, model) || remembered.has(provider, model)) return "responses";
  return "chat";
}

/** The protocol that lists a provider's models (both OpenAI APIs share `GET /models`). */
export function listingApi(setting: ApiSetting): UpstreamApi {
  return setting === "auto" ? "chat" : setting;
}
