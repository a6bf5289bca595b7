/**
 * Command-line flags → variables. Flags override the environment and `.env`; `--help` lists
 * every option and variable with its default.
 */
import { editDistance } from "../common/did_you_mean.ts";

export type CliResult =
  | { kind: "run"; overrides: Record<string, string>; envFile: string; envFileRequired: boolean }
  | { kind: "doctor"; overrides: Record<string, string>; envFile: string; envFileRequired: boolean }
  | {
    kind: "usage";
    overrides: Record<string, string>;
    envFile: string;
    envFileRequired: boolean;
    /** How many days back `usage` reports, today included. */
    days: number;
  }
  | {
    kind: "replay";
    /** The recorded exchanges (RECORD_DIR files), at least one. */
    files: string[];
    /** `--against MODEL`: send the recorded request to this model too (one file only). */
    against: string | undefined;
    overrides: Record<string, string>;
    envFile: string;
    envFileRequired: boolean;
  }
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "error"; message: string };

/** flag → variable it sets. */
const FLAGS: Record<string, string> = {
  "--port": "PORT",
  "--host": "HOST",
  "--base-url": "OPENAI_BASE_URL",
  "--big-model": "BIG_MODEL",
  "--middle-model": "MIDDLE_MODEL",
  "--small-model": "SMALL_MODEL",
  "--log-level": "LOG_LEVEL",
  "--log-format": "LOG_FORMAT",
  "--provider": "PROVIDER",
  "--api": "OPENAI_API",
  "--max-retries": "MAX_RETRIES",
  "--config": "CONFIG_FILE",
  "--usage-db": "USAGE_DB",
  "--record": "RECORD_DIR",
};

/** The flag that sets `variable`, if one does. */
export function flagFor(variable: string): string | undefined {
  return Object.keys(FLAGS).find((flag) => FLAGS[flag] === variable);
}

export function parseArgs(argv: readonly string[]): CliResult {
  const overrides: Record<string, string> = {};
  let envFile = ".env";
  let envFileRequired = false;
  let command: "run" | "doctor" | "usage" | "replay" = "run";
  let days = 7;
  const replayFiles: string[] = [];
  let against: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") return { kind: "help" };
    if (arg === "-v" || arg === "--version") return { kind: "version" };
    if (arg === "doctor" || arg === "--doctor") {
      command = "doctor";
      continue;
    }
    if (arg === "usage" && command === "run") {
      command = "usage";
      continue;
    }
    if (command === "usage" && (arg === "--days" || arg.startsWith("--days="))) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i];
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 36_500) {
        return { kind: "error", message: "--days needs a whole number of days, 1 to 36500" };
      }
      days = n;
      continue;
    }
    if (arg === "replay" && command === "run") {
      command = "replay";
      continue;
    }
    if (command === "replay" && !arg.startsWith("-")) {
      replayFiles.push(arg);
      continue;
    }
    if (arg === "--against" || arg.startsWith("--against=")) {
      const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[++i];
      if (!value || (!arg.includes("=") && value.startsWith("--"))) {
        return { kind: "error", message: "--against needs a model; see --help" };
      }
      against = value;
      continue;
    }
    if (arg === "--allow-remote") {
      overrides.ALLOW_REMOTE_WITHOUT_KEY = "true";
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const takesValue = name === "--env-file" || name in FLAGS;
    if (!takesValue) {
      const known = [
        "--help",
        "--version",
        "--env-file",
        "--allow-remote",
        "--against",
        "doctor",
        "usage",
        ...(command === "usage" ? ["--days"] : []),
        "replay",
        ...Object.keys(FLAGS),
      ];
      const close = closest(name, known);
      return {
        kind: "error",
        message: `unknown option "${arg}"${close ? ` (did you mean ${close}?)` : ""}; see --help`,
      };
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    // `--port --host x` is a forgotten value, not a port named "--host".
    if (value === undefined || (eq < 0 && value.startsWith("--"))) {
      return { kind: "error", message: `${name} needs a value; see --help` };
    }
    if (name === "--env-file") {
      envFile = value;
      envFileRequired = true;
    } else overrides[FLAGS[name]!] = value;
  }
  if (command === "usage") return { kind: "usage", overrides, envFile, envFileRequired, days };
  if (command === "replay") {
    if (replayFiles.length === 0) {
      return { kind: "error", message: "replay needs a recorded file: replay FILE; see --help" };
    }
    if (against !== undefined && replayFiles.length > 1) {
      return { kind: "error", message: "--against takes one recorded file; see --help" };
    }
    return { kind: "replay", files: replayFiles, against, overrides, envFile, envFileRequired };
  }
  if (against !== undefined) {
    return { kind: "error", message: "--against goes with replay FILE; see --help" };
  }
  return { kind: command, overrides, envFile, envFileRequired };
}

export function helpText(version: string): string {
  return `claude-code-proxy ${version}
Serves the Anthropic Messages API (for Claude Code and the Anthropic SDKs) on top of any
OpenAI-compatible Chat Completions upstream.

Usage:
  ./ccp [options]                        from a clone: the pinned Deno, no install needed
  deno run --allow-net --allow-env --allow-read --allow-write main.ts [options]
  bun main.ts [options]
  claude-code-proxy [options]            (compiled binary)
  ... doctor [options]                   check the upstream for each mapped model: plain, stream,
                                         tool call, image, thinking and a ~24k-token prompt
                                         (with --config: every provider and model it names)
  kill -HUP <pid>                        reload the --config file (it is also watched)
  ... usage [--days N]                   requests, tokens and cost per day and model from the
                                         usage history (default the last 7 days, UTC)
  ... replay FILE... [--against MODEL]   run RECORD_DIR files' upstream answers through today's
                                         converter and show what differs from what the client got
                                         (exit 1 when anything does); --against MODEL sends one
                                         file's recorded request to MODEL and shows both answers

Options (each overrides its variable):
  --host HOST            HOST               listen address            (default 127.0.0.1)
  --port PORT            PORT               listen port               (default 8082)
  --base-url URL         OPENAI_BASE_URL    upstream base URL         (default https://api.openai.com/v1)
  --big-model NAME       BIG_MODEL          model for *opus*, *fable*, *mythos* (default gpt-4o)
  --middle-model NAME    MIDDLE_MODEL       model for *sonnet*        (default BIG_MODEL)
  --small-model NAME     SMALL_MODEL        model for *haiku*         (default gpt-4o-mini)
  --log-level LEVEL      LOG_LEVEL          DEBUG|INFO|WARNING|ERROR|CRITICAL, any case (default INFO)
  --log-format FORMAT    LOG_FORMAT         text|json                 (default text)
  --provider NAME        PROVIDER           auto (from the base URL) or a profile (default auto):
                                            openai|azure|openrouter|ollama|deepseek|gemini|mistral|moonshot|zhipu|
                                            minimax|dashscope|xai|groq|cerebras|together|fireworks|lmstudio|vllm|
                                            llamacpp|generic
  --api API              OPENAI_API         chat|responses|auto: the OpenAI API spoken upstream (default auto)
  --max-retries N        MAX_RETRIES        upstream retries          (default 2)
  --usage-db PATH        USAGE_DB           usage history file, or off (default <data dir>/claude-code-proxy/usage.db)
  --record DIR           RECORD_DIR         write each exchange to DIR as one JSON file (default not set: off)
  --allow-remote         ALLOW_REMOTE_WITHOUT_KEY=true: a non-loopback HOST without ANTHROPIC_API_KEY (default false)
  --config FILE          CONFIG_FILE        routing file: providers, routes, fallback (default not set)
  --env-file PATH        read variables from PATH instead of ./.env (must exist)
  -h, --help             this text
  -v, --version          print the version

Variables (environment or .env; the environment wins over .env):
  OPENAI_API_KEY         upstream key; not needed for a local server (Ollama, LM Studio, vLLM, llama.cpp) or with CONFIG_FILE (default not set)
  ANTHROPIC_API_KEY      if set, clients must send exactly this key (x-api-key or Bearer) (default not set)
  AZURE_API_VERSION      api-version for Azure deployment URLs      (default 2024-10-21)
  OPENROUTER_REFERER     OpenRouter HTTP-Referer attribution header (default not set)
  OPENROUTER_TITLE       OpenRouter X-OpenRouter-Title / X-Title header (default not set)
  CUSTOM_HEADER_<NAME>   extra upstream header (CUSTOM_HEADER_X_FOO=1 sends x-foo: 1)
  EXTRA_BODY             JSON object merged into every upstream request body (default not set)
  MAX_TOKENS_LIMIT       cap on max_tokens sent upstream            (default per model, 16384 for unknown models)
  REASONING_MODELS       comma list of models to treat as reasoning models (default not set)
  NON_REASONING_MODELS   comma list of models never sent reasoning parameters (default not set)
  MODEL_LIMITS           JSON context window and output limit per model (default not set)
                         e.g. {"my-model":{"context":32768,"output":8192}}, over the built-in table
  THINKING_LOW_MAX_BUDGET    thinking budget up to this → reasoning_effort low    (default 4096)
  THINKING_MEDIUM_MAX_BUDGET thinking budget up to this → medium, above → high    (default 16384)
  MIDCONVERSATION_SYSTEM merge|keep system messages inside the conversation (default per provider: keep for openai/azure, merge elsewhere)
  REQUEST_TIMEOUT        total seconds per upstream request         (default 600)
  FIRST_BYTE_TIMEOUT     seconds until a streaming upstream answers (default 120)
  NONSTREAM_FIRST_BYTE_TIMEOUT seconds until a non-streamed answer starts (default 300)
  STREAM_IDLE_TIMEOUT    seconds of upstream silence mid-stream     (default 120)
  PING_INTERVAL          seconds between pings while upstream is silent (default 5)
  RETRY_MAX_DELAY        longest retry wait in seconds              (default 30)
  MAX_REQUEST_BYTES      largest request body in bytes              (default 33554432)
  SHUTDOWN_GRACE         seconds in-flight requests get on SIGINT/SIGTERM (default 10)
  SEARCH_PROVIDER        brave|tavily|searxng: web search and fetch for any model (default not set)
  BRAVE_API_KEY          Brave Search API key, for SEARCH_PROVIDER=brave (default not set)
  TAVILY_API_KEY         Tavily API key, for SEARCH_PROVIDER=tavily (default not set)
  SEARXNG_URL            SearXNG instance URL, for SEARCH_PROVIDER=searxng (default not set)
  SEARCH_BASE_URL        another API root for the search backend (default not set)
  SEARCH_TIMEOUT         seconds per search or page fetch           (default 15)
  SEARCH_MAX_RESULTS     results per search, 1-20                   (default 5)
  WEB_FETCH_MAX_BYTES    largest page body web fetch reads          (default 2097152)
  METRICS                GET /metrics in the Prometheus format      (default true)
  DASHBOARD              the /ui dashboard and its live feed        (default true)
  USAGE_RETENTION_DAYS   days of usage history kept                 (default 30)
  RECORD_MAX_FILE_BYTES  largest recorded exchange; larger ones are skipped (default 10485760)
  RECORD_MAX_DIR_BYTES   recording stops when RECORD_DIR would pass this  (default 1073741824)
`;
}

/**
 * The known option a mistyped one was meant to be, for the error hint: the one it abbreviates
 * (`--env` → `--env-file`), else the nearest within a few edits, fewer for short names so that
 * `--foo` suggests nothing rather than `--port`.
 */
function closest(input: string, known: readonly string[]): string | undefined {
  if (input.length >= 4) {
    const extended = known.filter((k) => k.startsWith(input));
    if (extended.length === 1) return extended[0];
  }
  let best: string | undefined;
  let bestDistance = Math.min(4, Math.max(2, Math.floor(input.length / 3)) + 1);
  for (const k of known) {
    const d = editDistance(input, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}
