/** README, .env.example and --help must stay true to the code: every variable is in all three. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { CONFIG_VARIABLES, configFromEnv } from "../lib/ops/config.ts";
import { helpText } from "../lib/cli/args.ts";
import { DEFAULT_OUTPUT_CAP } from "../lib/upstreams/model_info.ts";
import { chatCompletionsUrl } from "../lib/upstreams/openai/profiles.ts";
import { envProvider } from "../lib/routing/env_provider.ts";

const root = new URL("../", import.meta.url);
const readmeFile = readFileSync(new URL("README.md", root), "utf8");
/** README and every page under docs/: what users read. */
const readme = [
  readmeFile,
  ...readdirSync(new URL("docs/", root)).filter((f) => f.endsWith(".md")).sort().map((f) =>
    readFileSync(new URL(`docs/${f}`, root), "utf8")
  ),
].join("\n");
const example = readFileSync(new URL(".env.example", root), "utf8");
const help = helpText("0.0.0");

describe("documentation", () => {
  it("lists the variables the config reads", () => assert.ok(CONFIG_VARIABLES.length > 20));

  for (const name of [...CONFIG_VARIABLES, "CUSTOM_HEADER_"]) {
    it(`${name} is in README, .env.example and --help`, () => {
      assert.ok(readme.includes(name), `README or docs/ mention ${name}`);
      assert.ok(example.includes(name), `.env.example mentions ${name}`);
      assert.ok(help.includes(name), `--help mentions ${name}`);
    });
  }

  // Each variable's documented default, next to what the code does without the variable.
  const defaults = configFromEnv({ OPENAI_API_KEY: "x" });
  const searchDefaults = configFromEnv({
    OPENAI_API_KEY: "x",
    SEARCH_PROVIDER: "searxng",
    SEARXNG_URL: "http://127.0.0.1:8888",
  }).search!;
  const azureUrl = new URL(
    chatCompletionsUrl(
      envProvider(
        configFromEnv({ OPENAI_API_KEY: "x", OPENAI_BASE_URL: "https://r.openai.azure.com" }),
      ),
      "d",
    ),
  );
  const documented: Record<string, [documented: string, actual: unknown]> = {
    OPENAI_BASE_URL: ["https://api.openai.com/v1", defaults.openaiBaseUrl],
    PROVIDER: ["auto", defaults.provider],
    OPENAI_API: ["auto", defaults.openaiApi],
    BIG_MODEL: ["gpt-4o", defaults.bigModel],
    MIDDLE_MODEL: ["BIG_MODEL", defaults.middleModel === defaults.bigModel ? "BIG_MODEL" : "?"],
    SMALL_MODEL: ["gpt-4o-mini", defaults.smallModel],
    HOST: ["127.0.0.1", defaults.host],
    PORT: ["8082", String(defaults.port)],
    LOG_LEVEL: ["INFO", defaults.logLevel.toUpperCase()],
    LOG_FORMAT: ["text", defaults.logFormat],
    THINKING_LOW_MAX_BUDGET: ["4096", String(defaults.effortThresholds.lowMax)],
    THINKING_MEDIUM_MAX_BUDGET: ["16384", String(defaults.effortThresholds.mediumMax)],
    AZURE_API_VERSION: ["2024-10-21", azureUrl.searchParams.get("api-version")],
    REQUEST_TIMEOUT: ["600", String(defaults.requestTimeoutMs / 1000)],
    FIRST_BYTE_TIMEOUT: ["120", String(defaults.firstByteTimeoutMs / 1000)],
    NONSTREAM_FIRST_BYTE_TIMEOUT: ["300", String(defaults.nonStreamFirstByteTimeoutMs / 1000)],
    STREAM_IDLE_TIMEOUT: ["120", String(defaults.streamIdleTimeoutMs / 1000)],
    PING_INTERVAL: ["5", String(defaults.pingIntervalMs / 1000)],
    MAX_RETRIES: ["2", String(defaults.maxRetries)],
    RETRY_MAX_DELAY: ["30", String(defaults.retryMaxDelayMs / 1000)],
    MAX_REQUEST_BYTES: ["33554432", String(defaults.maxRequestBytes)],
    SHUTDOWN_GRACE: ["10", String(defaults.shutdownGraceMs / 1000)],
    ALLOW_REMOTE_WITHOUT_KEY: ["false", String(defaults.allowRemoteWithoutKey)],
    SEARCH_TIMEOUT: ["15", String(searchDefaults.timeoutMs / 1000)],
    SEARCH_MAX_RESULTS: ["5", String(searchDefaults.maxResults)],
    WEB_FETCH_MAX_BYTES: ["2097152", String(searchDefaults.fetchMaxBytes)],
    METRICS: ["true", String(defaults.metrics)],
    DASHBOARD: ["true", String(defaults.dashboard)],
    USAGE_RETENTION_DAYS: ["30", String(defaults.usageRetentionMs / 86_400_000)],
    RECORD_MAX_FILE_BYTES: ["10485760", String(defaults.recordMaxFileBytes)],
    RECORD_MAX_DIR_BYTES: ["1073741824", String(defaults.recordMaxDirBytes)],
  };
  // Documented as a rule rather than one value (checked below).
  const perModel = ["MAX_TOKENS_LIMIT", "USAGE_DB"];
  // No default: unset means off (or, for MIDCONVERSATION_SYSTEM, the provider's choice).
  const unset: Record<string, unknown> = {
    OPENAI_API_KEY: configFromEnv({ OPENAI_BASE_URL: "http://127.0.0.1:1/v1" }).openaiApiKey,
    ANTHROPIC_API_KEY: defaults.anthropicApiKey,
    OPENROUTER_REFERER: defaults.openrouterReferer,
    OPENROUTER_TITLE: defaults.openrouterTitle,
    EXTRA_BODY: Object.keys(defaults.extraBody).length === 0 ? undefined : defaults.extraBody,
    REASONING_MODELS: defaults.reasoningModels.length === 0 ? undefined : "set",
    NON_REASONING_MODELS: defaults.nonReasoningModels.length === 0 ? undefined : "set",
    MIDCONVERSATION_SYSTEM: defaults.midConversationSystem,
    MODEL_LIMITS: Object.keys(defaults.modelLimits).length === 0 ? undefined : "set",
    SEARCH_PROVIDER: defaults.search,
    BRAVE_API_KEY: defaults.search?.apiKey,
    TAVILY_API_KEY: defaults.search?.apiKey,
    SEARXNG_URL: defaults.search?.baseUrl,
    SEARCH_BASE_URL: defaults.search?.baseUrl,
    CONFIG_FILE: defaults.configFile,
    RECORD_DIR: defaults.recordDir,
  };

  /** The --help line that documents `name`: the variable first, or after its flag. */
  const helpLine = (name: string) =>
    help.split("\n").find((l) => new RegExp(`^\\s+(-\\S.*?\\s{2,})?${name}(\\s|=)`).test(l)) ?? "";
  const readmeRow = (name: string) =>
    readme.split("\n").find((l) => l.startsWith("|") && l.includes(`\`${name}\``)) ?? "";
  /** The variable's line in .env.example and the comment lines just above it. */
  const exampleBlock = (name: string) => {
    const lines = example.split("\n");
    const at = lines.findIndex((l) => new RegExp(`^#? ?${name}=`).test(l));
    if (at < 0) return "";
    let from = at;
    while (from > 0 && lines[from - 1]!.startsWith("# ") && !/^# [A-Z_]+=/.test(lines[from - 1]!)) {
      from--;
    }
    return lines.slice(from, at + 1).join("\n");
  };

  it("every variable has a documented default or is documented as not set", () => {
    const all = new Set([...Object.keys(documented), ...Object.keys(unset), ...perModel]);
    assert.deepEqual([...CONFIG_VARIABLES].filter((v) => !all.has(v)), []);
  });

  for (const [name, [value, actual]] of Object.entries(documented)) {
    it(`${name}: the default is ${value} in the code, --help, README and .env.example`, () => {
      assert.equal(actual, value, "the code's default");
      assert.ok(helpLine(name).includes(`default ${value}`), `--help: ${helpLine(name)}`);
      assert.ok(readmeRow(name).includes(`\`${value}\``), `README: ${readmeRow(name)}`);
      const block = exampleBlock(name);
      assert.ok(
        block.includes(`${name}=${value}`) || block.includes(`Default ${value}`) ||
          block.includes(`Default: the value of ${value}`),
        `.env.example: ${block}`,
      );
    });
  }

  it("MAX_TOKENS_LIMIT: per model by default, 16384 for unknown models, everywhere", () => {
    assert.equal(defaults.maxTokensLimit, undefined);
    assert.equal(DEFAULT_OUTPUT_CAP, 16384);
    const line = helpLine("MAX_TOKENS_LIMIT");
    assert.ok(line.includes("default per model, 16384 for unknown models"), line);
    assert.match(readmeRow("MAX_TOKENS_LIMIT"), /per model.*unknown models: 16384/);
    assert.match(exampleBlock("MAX_TOKENS_LIMIT"), /known output limit, 16384 for unknown models/);
  });

  it("USAGE_DB: in the user's data directory by default, everywhere", () => {
    const home = configFromEnv({ OPENAI_API_KEY: "x", HOME: "/home/u" }).usageDb;
    assert.equal(home, "/home/u/.local/share/claude-code-proxy/usage.db");
    const xdg = configFromEnv({ OPENAI_API_KEY: "x", HOME: "/h", XDG_DATA_HOME: "/d" }).usageDb;
    assert.equal(xdg, "/d/claude-code-proxy/usage.db");
    assert.equal(configFromEnv({ OPENAI_API_KEY: "x", USAGE_DB: "off" }).usageDb, undefined);
    assert.ok(helpLine("USAGE_DB").includes("default <data dir>/claude-code-proxy/usage.db"));
    assert.match(readmeRow("USAGE_DB"), /data directory.*claude-code-proxy\/usage\.db/);
    assert.match(exampleBlock("USAGE_DB"), /Default: the user's data directory/);
  });

  for (const [name, actual] of Object.entries(unset)) {
    it(`${name}: unset by default, and --help says so`, () => {
      assert.equal(actual, undefined);
      assert.match(helpLine(name), /default (not set|per provider)/, helpLine(name));
    });
  }

  it("README's first screen has the two set-up commands", () => {
    const firstScreen = readmeFile.split("\n").slice(0, 25).join("\n");
    // ./ccp needs only Node/npm: it installs the pinned Deno itself (tests/ccp.test.ts).
    assert.match(firstScreen, /^OPENAI_API_KEY=\S+ \.\/ccp +# start the proxy/m);
    assert.match(firstScreen, /^bash \.ci\/run +# run all checks and tests/m);
  });

  it("documents /health with its version field", () => {
    assert.match(readme, /`GET \/health` +\| `\{"status":"ok","version":"[^"]+"\}`/);
  });

  it("gives one Ollama context size everywhere", () => {
    const sizes = new Set(
      [...readme.matchAll(/(?:OLLAMA_CONTEXT_LENGTH=|num_ctx )(\d+)/g)].map((m) => m[1]),
    );
    assert.deepEqual([...sizes], ["65536"]);
  });
});
