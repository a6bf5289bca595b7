/**
 * Request → the upstream that answers it. Without a configuration file there is one provider
 * (the environment's) and the Claude family tiers of BIG_MODEL, MIDDLE_MODEL and SMALL_MODEL.
 */
import type { Config } from "../ops/config.ts";
import type { Provider } from "../upstreams/provider.ts";
import { envProvider } from "./env_provider.ts";
import { mapModel } from "./tiers.ts";

/** Where one request goes: a provider and the upstream model name to ask it for. */
export type Target = Readonly<{ provider: Provider; model: string }>;

export type Router = Readonly<{
  /** The target for the model name a client asked for. */
  route(clientModel: string): Target;
  /** Every configured provider, the default first. */
  providers: readonly Provider[];
}>;

export function envRouter(config: Config): Router {
  const provider = envProvider(config);
  return Object.freeze({
    route: (clientModel: string): Target => ({ provider, model: mapModel(clientModel, config) }),
    providers: Object.freeze([provider]),
  });
}
