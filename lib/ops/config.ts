/**
 * Configuration: environment plus an optional `.env` file → one validated, frozen Config.
 * The only module that reads variables; the names follow the Python proxy this replaces.
 */
import { z } from "zod";
import { parseDotenv } from "./dotenv.ts";
import { type LogFormat, type LogLevel, parseLogLevel } from "./log.ts";
import {
  detectProvider,
  PROVIDER_SETTINGS,
  type ProviderSetting,
} from "../upstreams/openai/detect_provider.ts";

const seconds = (fallback: number) =>
  z.coerce.number().positive().max(86_400).default(fallback).transform((s) => s * 1000);

const flag = z
  .string()
  .default("")
  .transform((v, ctx) => {
    const s = v.trim().toLowerCase();
    if (["", "0", "false", "no", "off"].includes(s)) return false;
    if (["1", "true", "yes", "on"].includes(s)) return true;
    ctx.addIssue({ code: "custom", message: `expected true or false, got "${v}"` });
    return z.NEVER;
  });

const list = z.string().default("").transform((v) =>
  v.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
);

const optional = z.string().trim().optional().transform((v) => (v ? v : undefined));

const EnvSchema = z.object({
  OPENAI_API_KEY: optional,
  OPENAI_BASE_URL: z
    .string()
    .trim()
    .default("https://api.openai.com/v1")
    .transform((v) => v.replace(/\/+$/, ""))
    .pipe(z.url({ protocol: /^https?$/, message: "must be an http(s) URL" })),
  BIG_MODEL: z.string().trim().min(1).default("gpt-4o"),
  MIDDLE_MODEL: optional,
  SMALL_MODEL: z.string().trim().min(1).default("gpt-4o-mini"),
  ANTHROPIC_API_KEY: optional,
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8082),
  LOG_LEVEL: z.string().default("INFO").transform((v, ctx) => {
    const level = parseLogLevel(v);
    if (level) return level;
    ctx.addIssue({
      code: "custom",
      message: `unknown level "${v}" (use DEBUG, INFO, WARNING, ERROR or CRITICAL)`,
    });
    return z.NEVER;
  }),
  // Any case, like LOG_LEVEL.
  LOG_FORMAT: z.string().trim().toLowerCase().default("text").pipe(z.enum(["text", "json"])),
  REQUEST_TIMEOUT: seconds(600),
  FIRST_BYTE_TIMEOUT: seconds(120),
  STREAM_IDLE_TIMEOUT: seconds(120),
  PING_INTERVAL: seconds(5),
  SHUTDOWN_GRACE: seconds(10),
  MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  RETRY_MAX_DELAY: seconds(30),
  MAX_TOKENS_LIMIT: z.coerce.number().int().positive().optional(),
  MAX_REQUEST_BYTES: z.coerce.number().int().positive().default(32 * 1024 * 1024),
  ALLOW_REMOTE_WITHOUT_KEY: flag,
  PROVIDER: z.string().trim().toLowerCase().default("auto").pipe(z.enum(PROVIDER_SETTINGS)),
  AZURE_API_VERSION: optional,
  OPENROUTER_REFERER: optional,
  OPENROUTER_TITLE: optional,
  EXTRA_BODY: z
    .string()
    .default("")
    .transform((v, ctx) => {
      if (v.trim() === "") return {} as Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(v);
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
          return parsed as Record<string, unknown>;
        }
      } catch {
        // reported below
      }
      ctx.addIssue({ code: "custom", message: "must be a JSON object" });
      return z.NEVER;
    }),
  REASONING_MODELS: list,
  NON_REASONING_MODELS: list,
  // Thinking budgets up to these many tokens ask for low / medium reasoning effort; above, high.
  THINKING_LOW_MAX_BUDGET: z.coerce.number().int().positive().default(4_096),
  THINKING_MEDIUM_MAX_BUDGET: z.coerce.number().int().positive().default(16_384),
  MIDCONVERSATION_SYSTEM: z.enum(["merge", "keep"]).optional(),
  RECORD_DIR: optional,
  RECORD_MAX_FILE_BYTES: z.coerce.number().int().positive().default(10 * 1024 * 1024),
  RECORD_MAX_DIR_BYTES: z.coerce.number().int().positive().default(1024 * 1024 * 1024),
});

/** Every variable the proxy reads (besides CUSTOM_HEADER_*), for docs checks. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape);

export type Config = Readonly<{
  openaiApiKey: string | undefined;
  openaiBaseUrl: string;
  bigModel: string;
  middleModel: string;
  smallModel: string;
  anthropicApiKey: string | undefined;
  host: string;
  port: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  requestTimeoutMs: number;
  firstByteTimeoutMs: number;
  streamIdleTimeoutMs: number;
  pingIntervalMs: number;
  shutdownGraceMs: number;
  maxRetries: number;
  retryMaxDelayMs: number;
  maxTokensLimit: number | undefined;
  maxRequestBytes: number;
  allowRemoteWithoutKey: boolean;
  provider: ProviderSetting;
  azureApiVersion: string | undefined;
  openrouterReferer: string | undefined;
  openrouterTitle: string | undefined;
  customHeaders: Readonly<Record<string, string>>;
  extraBody: Readonly<Record<string, unknown>>;
  reasoningModels: readonly string[];
  nonReasoningModels: readonly string[];
  /** Thinking budget (tokens) → reasoning effort: ≤ lowMax is low, ≤ mediumMax medium, else high. */
  effortThresholds: Readonly<{ lowMax: number; mediumMax: number }>;
  midConversationSystem: "merge" | "keep" | undefined;
  /** Each exchange is written here as one file (see server/exchange_recorder.ts). */
  recordDir: string | undefined;
  recordMaxFileBytes: number;
  recordMaxDirBytes: number;
}>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function onDenoDeploy(env: Readonly<Record<string, string | undefined>>): boolean {
  return (env.DENO_DEPLOYMENT_ID ?? "").trim() !== "";
}

/** Builds the config from a variable map (the environment merged over `.env`). */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const baseHost = new URL(e.OPENAI_BASE_URL).hostname;
  const provider = e.PROVIDER === "auto" ? detectProvider(e.OPENAI_BASE_URL) : e.PROVIDER;
  // Local servers (Ollama, LM Studio, vLLM on this machine) ignore the key, and so does Ollama
  // anywhere (`http://ollama:11434` in Docker); everything else needs one.
  if (!e.OPENAI_API_KEY && !isLoopbackHost(baseHost) && provider !== "ollama") {
    throw new ConfigError(
      "invalid configuration:\n  OPENAI_API_KEY: required (the key of your OpenAI-compatible provider)",
    );
  }
  // Deno Deploy (classic and current; both set DENO_DEPLOYMENT_ID) serves the program on a public
  // address whatever HOST says: https://docs.deno.com/deploy/reference/env_vars_and_contexts/
  if (!e.ANTHROPIC_API_KEY && onDenoDeploy(env) && !e.ALLOW_REMOTE_WITHOUT_KEY) {
    throw new ConfigError(
      "refusing to serve on Deno Deploy without ANTHROPIC_API_KEY: the deployment is public, so " +
        "anyone could spend your upstream key. Set ANTHROPIC_API_KEY in the deployment's " +
        "environment (clients must then send it).",
    );
  }
  if (!e.ANTHROPIC_API_KEY && !isLoopbackHost(e.HOST) && !e.ALLOW_REMOTE_WITHOUT_KEY) {
    throw new ConfigError(
      `refusing to listen on HOST=${e.HOST} without ANTHROPIC_API_KEY: anyone who can reach ` +
        "this address could spend your upstream key. Set ANTHROPIC_API_KEY (clients must then " +
        "send it), or set ALLOW_REMOTE_WITHOUT_KEY=true if the network is trusted.",
    );
  }
  if (e.THINKING_LOW_MAX_BUDGET >= e.THINKING_MEDIUM_MAX_BUDGET) {
    throw new ConfigError(
      "invalid configuration:\n  THINKING_LOW_MAX_BUDGET: must be below THINKING_MEDIUM_MAX_BUDGET " +
        `(got ${e.THINKING_LOW_MAX_BUDGET} and ${e.THINKING_MEDIUM_MAX_BUDGET})`,
    );
  }
  const customHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("CUSTOM_HEADER_") && value !== undefined && name.length > 14) {
      customHeaders[name.slice(14).toLowerCase().replaceAll("_", "-")] = value;
    }
  }
  return Object.freeze({
    openaiApiKey: e.OPENAI_API_KEY,
    openaiBaseUrl: e.OPENAI_BASE_URL,
    bigModel: e.BIG_MODEL,
    middleModel: e.MIDDLE_MODEL ?? e.BIG_MODEL,
    smallModel: e.SMALL_MODEL,
    anthropicApiKey: e.ANTHROPIC_API_KEY,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    requestTimeoutMs: e.REQUEST_TIMEOUT,
    firstByteTimeoutMs: e.FIRST_BYTE_TIMEOUT,
    streamIdleTimeoutMs: e.STREAM_IDLE_TIMEOUT,
    pingIntervalMs: e.PING_INTERVAL,
    shutdownGraceMs: e.SHUTDOWN_GRACE,
    maxRetries: e.MAX_RETRIES,
    retryMaxDelayMs: e.RETRY_MAX_DELAY,
    maxTokensLimit: e.MAX_TOKENS_LIMIT,
    maxRequestBytes: e.MAX_REQUEST_BYTES,
    allowRemoteWithoutKey: e.ALLOW_REMOTE_WITHOUT_KEY,
    provider: e.PROVIDER,
    azureApiVersion: e.AZURE_API_VERSION,
    openrouterReferer: e.OPENROUTER_REFERER,
    openrouterTitle: e.OPENROUTER_TITLE,
    customHeaders: Object.freeze(customHeaders),
    extraBody: Object.freeze(e.EXTRA_BODY),
    reasoningModels: Object.freeze(e.REASONING_MODELS),
    nonReasoningModels: Object.freeze(e.NON_REASONING_MODELS),
    effortThresholds: Object.freeze({
      lowMax: e.THINKING_LOW_MAX_BUDGET,
      mediumMax: e.THINKING_MEDIUM_MAX_BUDGET,
    }),
    midConversationSystem: e.MIDCONVERSATION_SYSTEM,
    recordDir: e.RECORD_DIR,
    recordMaxFileBytes: e.RECORD_MAX_FILE_BYTES,
    recordMaxDirBytes: e.RECORD_MAX_DIR_BYTES,
  });
}

/**
 * The variables of a `.env` file's text (undefined: no file). A missing file is fine unless it
 * was named explicitly. Real environment variables win over the file, as with every loader.
 */
export function envFileVars(
  path: string,
  text: string | undefined,
  required: boolean,
): Record<string, string> {
  if (text === undefined) {
    if (required) throw new ConfigError(`cannot read env file ${path}: not found`);
    return {};
  }
  return parseDotenv(text);
}
