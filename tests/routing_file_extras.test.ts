/**
 * What a routing file sets beside providers and chains: per-provider model limits (seen in
 * /v1/models), per-provider web search backends, and prices for the dashboard's cost.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, configFromEnv } from "../lib/ops/config.ts";
import { silentLogger } from "../lib/ops/log.ts";
import { Health } from "../lib/routing/health.ts";
import { buildRouter } from "../lib/routing/load.ts";
import { routerSecrets } from "../lib/routing/router.ts";
import { createHandler } from "../lib/server/handler.ts";
import { priceFor } from "../lib/ops/prices.ts";

const ENV = {
  OPENAI_API_KEY: "sk-env-key-0123456789",
  CONFIG_FILE: "x.jsonc",
  BRAVE_KEY: "brave-key-0123456789abcdef",
  USAGE_DB: "off",
};

function load(text: string, env: Record<string, string> = ENV) {
  const config = configFromEnv(env);
  return { config, ...buildRouter(config, text, env, new Health()) };
}

const FILE = `{
  "providers": {
    "local": {
      "base_url": "http://127.0.0.1:1/v1",
      "models": ["Small-Model"],
      "model_limits": { "Small-Model": { "context": 32768, "output": 4096 } },
      "search": { "provider": "brave", "api_key": "\${BRAVE_KEY}", "max_results": 3 },
    },
    "quiet": { "base_url": "http://127.0.0.1:2/v1", "models": ["m"], "search": false },
  },
  "prices": { "Small-Model": { "input": 0.5, "output": 1.5, "cached_input": 0.05 } },
}`;

describe("routing file: limits, search and prices", () => {
  it("gives each provider its own limits and search backend, and the file's prices", () => {
    const { router } = load(FILE);
    const [local, quiet] = router.providers;
    assert.deepEqual(local!.modelLimits?.["small-model"], { context: 32768, output: 4096 });
    assert.equal(local!.search?.backend, "brave");
    assert.equal(local!.search?.baseUrl, "https://api.search.brave.com/res/v1");
    assert.equal(local!.search?.apiKey, ENV.BRAVE_KEY);
    assert.equal(local!.search?.maxResults, 3);
    assert.equal(quiet!.search, undefined);
    assert.deepEqual(router.file?.prices["small-model"], {
      input: 0.5,
      output: 1.5,
      cachedInput: 0.05,
    });
    // Found whatever the case of the file's key and of the model id.
    assert.equal(priceFor("local/Small-Model", router.file!.prices)?.input, 0.5);
    assert.equal(priceFor("SMALL-MODEL", router.file!.prices)?.output, 1.5);
    // The search key is a secret like the upstream keys: redacted wherever they are.
    assert.ok(routerSecrets(router).includes(ENV.BRAVE_KEY));
  });

  it("a provider without a search block keeps SEARCH_PROVIDER's backend", () => {
    const env = { ...ENV, SEARCH_PROVIDER: "searxng", SEARXNG_URL: "http://127.0.0.1:9/" };
    const { router } = load(
      `{ "providers": { "p": { "base_url": "http://127.0.0.1:1/v1" } } }`,
      env,
    );
    assert.equal(router.providers[0]!.search?.backend, "searxng");
  });

  it("refuses a search block without the key or URL its backend needs, naming the path", () => {
    const text = `{ "providers": { "p": { "base_url": "http://127.0.0.1:1/v1",
      "search": { "provider": "tavily" } } } }`;
    assert.throws(() => load(text), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /providers\.p\.search: brave and tavily need api_key/);
      return true;
    });
  });

  it("/v1/models shows the file's context window and output limit for its models", async () => {
    const { config, router } = load(FILE);
    const handler = createHandler(config, {
      log: silentLogger,
      router: { current: () => router },
    });
    const res = await handler(new Request("http://proxy.test/v1/models/local%2FSmall-Model"));
    assert.equal(res.status, 200);
    const entry = await res.json();
    assert.equal(entry.id, "local/Small-Model");
    assert.equal(entry.max_input_tokens, 32768);
    assert.equal(entry.max_tokens, 4096);
  });
});
