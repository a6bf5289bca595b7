/** The start-up banner: what is running where, and the line that starts Claude Code on it. */
import type { Config } from "./config.ts";
import { resolveProfile } from "./providers.ts";
import { VERSION } from "./version.ts";

function redactKey(key: string | undefined): string {
  if (!key) return "(not set)";
  return key.length <= 8 ? "****" : `${key.slice(0, 3)}…${key.slice(-2)} (${key.length} chars)`;
}

export function banner(config: Config, port: number): string {
  const host = config.host.includes(":") && !config.host.startsWith("[")
    ? `[${config.host}]`
    : config.host;
  const reachable = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
  const base = `http://${reachable}:${port}`;
  const profile = resolveProfile(config);
  const auth = config.anthropicApiKey
    ? `clients must send ANTHROPIC_API_KEY (${redactKey(config.anthropicApiKey)})`
    : "open (no ANTHROPIC_API_KEY): any client on this machine may use it";
  const keyForClaude = config.anthropicApiKey ? "<your ANTHROPIC_API_KEY>" : "any-value";
  return [
    `claude-code-proxy ${VERSION} listening on http://${host}:${port}`,
    `  upstream   ${config.openaiBaseUrl} (provider: ${profile.name}, key: ${
      redactKey(config.openaiApiKey)
    })`,
    `  models     opus → ${config.bigModel}, sonnet → ${config.middleModel}, haiku → ${config.smallModel}`,
    `  auth       ${auth}`,
    `  start Claude Code with:`,
    `    ANTHROPIC_BASE_URL=${base} ANTHROPIC_API_KEY=${keyForClaude} claude`,
  ].join("\n");
}
