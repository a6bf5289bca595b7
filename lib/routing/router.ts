/**
 * Request → the ordered chain of upstreams to try. Without a configuration file there is one
 * provider (the environment's, `default`) and the Claude family tiers of BIG_MODEL,
 * MIDDLE_MODEL and SMALL_MODEL. With one (see file_router.ts): an explicit `provider/model`,
 * then `routes` (first match wins), then the `models` tiers, then the first provider.
 */
import { headerSecrets, urlSecrets } from "../common/secret_values.ts";
import type { Config } from "../ops/config.ts";
import type { PriceTable } from "../ops/prices.ts";
import type { Provider } from "../upstreams/provider.ts";
import { envProvider } from "./env_provider.ts";
import type { FallbackCause } from "./file_schema.ts";
import type { BreakerSettings, Health } from "./health.ts";
import type { RequestTest, RoutableRequest } from "./rules.ts";
import { type ClaudeFamily, mapModel } from "./tiers.ts";

export type { RoutableRequest } from "./rules.ts";

/** One entry of a chain: a provider and the upstream model name to ask it for. */
export type Target = Readonly<{ provider: Provider; model: string }>;

/** The chain for one request and what chose it (`routes[0]`, `models.opus`, `explicit` …). */
export type Routed = Readonly<{ chain: readonly Target[]; via: string }>;

/** What the configuration file adds: for the banner, /v1/models, doctor and fallback. */
export type FileRouting = Readonly<{
  source: string;
  tiers: Readonly<Partial<Record<ClaudeFamily, readonly Target[]>>>;
  routes: readonly Readonly<
    { test: RequestTest; chain: readonly Target[]; label: string; when: string }
  >[];
  fallbackOn: ReadonlySet<FallbackCause>;
  breaker: BreakerSettings;
  health: Health;
  /** The file's `prices`, over the built-in table. */
  prices: PriceTable;
}>;

export type Router = Readonly<{
  /** The chain for a request; `inputTokens` is called only by a rule that needs it. */
  route(request: RoutableRequest, inputTokens: () => number): Routed;
  /** The chain for a bare model name (no request to look at): explicit names and tiers. */
  routeName(clientModel: string): Routed;
  /** Every configured provider, the first one (the default) first. */
  providers: readonly Provider[];
  /** Undefined without a configuration file. */
  file: FileRouting | undefined;
}>;

export function envRouter(config: Config): Router {
  const provider = envProvider(config);
  const routeName = (clientModel: string): Routed => ({
    chain: [{ provider, model: mapModel(clientModel, config) }],
    via: "default",
  });
  return Object.freeze({
    route: (request: RoutableRequest) => routeName(request.model),
    routeName,
    providers: Object.freeze([provider]),
    file: undefined,
  });
}

/**
 * Every secret the router's providers hold, for the redactors: upstream and search keys,
 * credentials in their URLs and the values of credential headers (CUSTOM_HEADER_COOKIE …).
 */
export function routerSecrets(router: Router): string[] {
  return router.providers.flatMap((p) => [
    ...p.apiKeys,
    ...urlSecrets(p.baseUrl),
    ...headerSecrets(p.headers),
    ...(p.search ? [p.search.apiKey, ...urlSecrets(p.search.baseUrl)] : []),
  ]).filter((s): s is string => s !== undefined);
}

/** `a → b → c` for the log and the banner. */
export function describeChain(chain: readonly Target[]): string {
  return chain.map(targetName).join(" → ");
}

export function targetName(t: Target): string {
  let byModel = NAMES.get(t.provider);
  if (byModel === undefined) {
    byModel = new Map();
    NAMES.set(t.provider, byModel);
  }
  let name = byModel.get(t.model);
  if (name === undefined) {
    name = `${t.provider.name}/${t.model}`;
    // Model names a client sent through are unbounded; configured ones are few.
    if (byModel.size < 1_000) byModel.set(t.model, name);
  }
  return name;
}

/**
 * Each target's name made once: metrics, the history and the log key their maps by it, and a
 * string made anew each request is hashed anew at each of those lookups.
 */
const NAMES = new WeakMap<Target["provider"], Map<string, string>>();
