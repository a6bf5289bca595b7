/**
 * The handler for platforms that call an exported `fetch` (Cloudflare Workers, `deno serve`,
 * Deno Deploy) instead of running main.ts: configured from a variable map the platform hands
 * over, built once, and always treated as public, since such a platform decides the listening
 * address itself.
 */
import { headerSecrets, urlSecrets } from "../common/secret_values.ts";
import { errorResponse, ProxyError } from "../anthropic/errors.ts";
import { type Config, ConfigError, configFromEnv } from "../ops/config.ts";
import { createLogger, type Sink } from "../ops/log.ts";
import { createHandler, type Handler } from "../server/handler.ts";

/** The string variables of a platform's environment (Workers also binds non-strings). */
export function stringVars(env: Readonly<Record<string, unknown>>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === "string") vars[name] = value;
  }
  return vars;
}

/**
 * The config for a platform-served proxy. The address is the platform's, so HOST cannot keep
 * it private: without ANTHROPIC_API_KEY it refuses, as main.ts does for a non-loopback HOST,
 * unless ALLOW_REMOTE_WITHOUT_KEY=true says the network is trusted.
 */
export function platformConfig(vars: Readonly<Record<string, string>>): Config {
  const config = configFromEnv(vars);
  if (!config.anthropicApiKey && !config.allowRemoteWithoutKey) {
    throw new ConfigError(
      "refusing to serve without ANTHROPIC_API_KEY: this platform serves on an address anyone " +
        "may reach, and anyone could spend your upstream key. Set ANTHROPIC_API_KEY as a " +
        "secret (clients must then send it), or ALLOW_REMOTE_WITHOUT_KEY=true if the network " +
        "is trusted.",
    );
  }
  return config;
}

/**
 * A `fetch` that builds the handler on first use from the variables `varsOf` returns (Workers
 * hands them to each call, not at start-up). A configuration error answers every request with
 * a 500 naming the setting, and is logged once, with no secret in either.
 */
export function lazyFetch<A extends unknown[]>(
  varsOf: (...args: A) => Readonly<Record<string, string>>,
  sink?: Sink,
): (req: Request, ...args: A) => Promise<Response> {
  let built: { handler: Handler } | { error: ConfigError } | undefined;
  const build = (args: A): { handler: Handler } | { error: ConfigError } => {
    try {
      const config = platformConfig(varsOf(...args));
      const log = createLogger({
        level: config.logLevel,
        format: config.logFormat,
        secrets: [
          config.openaiApiKey,
          config.anthropicApiKey,
          ...urlSecrets(config.openaiBaseUrl),
          ...headerSecrets(config.customHeaders),
        ],
        sink,
      });
      return { handler: createHandler(config, { log }) };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      console.error(`error: ${err.message}`);
      return { error: err };
    }
  };
  return (req, ...args) => {
    built ??= build(args);
    if ("handler" in built) return built.handler(req);
    const message = `proxy misconfigured: ${built.error.message}`;
    return Promise.resolve(errorResponse(new ProxyError(500, "api_error", message)));
  };
}
