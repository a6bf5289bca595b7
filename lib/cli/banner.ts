/** The start-up banner: what is running where, and the line that starts Claude Code on it. */
import { type Config, isLoopbackHost } from "../ops/config.ts";
import { resolveProfile } from "../upstreams/openai/profiles.ts";
import { VERSION } from "../ops/version.ts";
import { displayUrl } from "../common/secret_values.ts";

/**
 * The public kinds of key that providers document, longest first. A pattern would also take the
 * first pieces of a random key that happens to hold a dash (OpenAI's are base64url).
 */
const KEY_KINDS = [
  "sk-ant-api03-",
  "sk-ant-admin01-",
  "sk-ant-",
  "sk-or-v1-",
  "sk-proj-",
  "sk-svcacct-",
  "sk-admin-",
  "sk-",
  "tvly-",
  "gsk_",
  "xai-",
  "pplx-",
  "nvapi-",
  "hf_",
];

/**
 * A key as the banner shows it: its kind, and its last two characters only when it is long
 * enough (24 or more) that two of them give nothing away, so that two keys can be told apart.
 */
export function redactKey(key: string | undefined): string {
  if (!key) return "(not set)";
  const kind = KEY_KINDS.find((k) => key.startsWith(k)) ?? "";
  const end = key.length >= 24 ? key.slice(-2) : "";
  return `${kind}****${end} (${key.length} chars)`;
}

/** The banner's facts, for the text banner and for one JSON log line (LOG_FORMAT=json). */
export type BannerFields = {
  version: string;
  /** The address the server listens on. */
  listening: string;
  upstream: string;
  provider: string;
  upstream_key: string;
  models: { opus: string; sonnet: string; haiku: string };
  auth: string;
  /** The shell line that starts Claude Code against this proxy, as it can be pasted. */
  claude_code: string;
  /** Where the dashboard is (DASHBOARD=true). */
  dashboard?: string;
  /** OPENAI_API: which OpenAI API the upstream is spoken to with. */
  api: string;
};

export function bannerFields(config: Config, port: number): BannerFields {
  const host = config.host.includes(":") && !config.host.startsWith("[")
    ? `[${config.host}]`
    : config.host;
  const reachable = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
  const auth = config.anthropicApiKey
    ? `clients must send ANTHROPIC_API_KEY (${redactKey(config.anthropicApiKey)})`
    : isLoopbackHost(config.host)
    ? "open (no ANTHROPIC_API_KEY): any client on this machine may use it"
    : "open (no ANTHROPIC_API_KEY, ALLOW_REMOTE_WITHOUT_KEY): anyone who can reach this address may use it";
  // The key itself never goes into the banner (logs are collected). `"$ANTHROPIC_API_KEY"` is
  // valid shell that sends it from a shell where it is set; a `<placeholder>` would be parsed as
  // a redirection by the shell the line is pasted into.
  // It goes as ANTHROPIC_AUTH_TOKEN (a Bearer token, which the proxy accepts too): Claude Code
  // 2.1 asks before using an ANTHROPIC_API_KEY it has not seen, defaulting to "No" (then a login
  // screen), and on a fresh account checks api.anthropic.com first; with a token it does
  // neither. ANTHROPIC_API_KEY is emptied on the same line, so a shell that holds it does not
  // bring the question back (the assignments are expanded left to right).
  const token = config.anthropicApiKey ? '"$ANTHROPIC_API_KEY"' : "any-value";
  const unsetKey = config.anthropicApiKey ? " ANTHROPIC_API_KEY=" : "";
  return {
    version: VERSION,
    listening: `http://${host}:${port}`,
    upstream: displayUrl(config.openaiBaseUrl),
    provider: resolveProfile(config.provider, config.openaiBaseUrl).name,
    upstream_key: redactKey(config.openaiApiKey),
    models: { opus: config.bigModel, sonnet: config.middleModel, haiku: config.smallModel },
    auth,
    claude_code:
      `ANTHROPIC_BASE_URL=http://${reachable}:${port} ANTHROPIC_AUTH_TOKEN=${token}${unsetKey} claude`,
    ...(config.dashboard ? { dashboard: `http://${reachable}:${port}/ui` } : {}),
    api: config.openaiApi,
  };
}

/** The first banner line; also the message of the JSON banner line. */
export function bannerTitle(fields: BannerFields): string {
  return `claude-code-proxy ${fields.version} listening on ${fields.listening}`;
}

/** `routing`: the lines of a routing configuration file (routing_banner.ts), shown instead. */
export function banner(config: Config, port: number, routing: readonly string[] = []): string {
  const f = bannerFields(config, port);
  return [
    bannerTitle(f),
    ...(routing.length > 0 ? routing : [
      `  upstream   ${f.upstream} (provider: ${f.provider}, api: ${f.api}, key: ${f.upstream_key})`,
      `  models     opus → ${f.models.opus}, sonnet → ${f.models.sonnet}, haiku → ${f.models.haiku}`,
    ]),
    `  auth       ${f.auth}`,
    ...(f.dashboard ? [`  dashboard  ${f.dashboard}`] : []),
    config.anthropicApiKey
      ? `  start Claude Code with (in a shell where ANTHROPIC_API_KEY holds the proxy's key):`
      : `  start Claude Code with:`,
    `    ${f.claude_code}`,
  ].join("\n");
}

/**
 * The banner as one JSON log line, for LOG_FORMAT=json: log collectors then see only JSON.
 * Not written through the logger, whose key-shape patterns would blank the paste line's
 * `ANTHROPIC_API_KEY=…`; the caller takes the configured keys out, as for the text banner.
 */
export function bannerJson(
  config: Config,
  port: number,
  time: Date,
  routingLines: readonly string[] = [],
): string {
  const fields = bannerFields(config, port);
  const routing = routingLines.map((l) => l.trim());
  return JSON.stringify({
    time: time.toISOString(),
    level: "info",
    msg: bannerTitle(fields),
    ...fields,
    // With a routing file, the variables' single upstream is not what serves requests.
    ...(routing.length > 0
      ? {
        routing,
        upstream: undefined,
        provider: undefined,
        upstream_key: undefined,
        models: undefined,
        api: undefined,
      }
      : {}),
  });
}
