/**
 * The routing file as a spec: parsing (comments, trailing commas, `${VAR}`), every error with
 * its JSON path, unknown keys with a hint, literal keys warned about; the example file; and a
 * rule table for route selection. Pure: no server.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ConfigError, configFromEnv } from "../lib/ops/config.ts";
import { parseRoutingFile } from "../lib/routing/config_file.ts";
import { Health } from "../lib/routing/health.ts";
import { buildRouter } from "../lib/routing/load.ts";
import { describeChain, type RoutableRequest } from "../lib/routing/router.ts";

const ENV = {
  OPENAI_API_KEY: "sk-a",
  OR_KEY_1: "k1",
  OR_KEY_2: "k2",
  DEEPSEEK_API_KEY: "k3",
  CONFIG_FILE: "x.jsonc",
};

function errorOf(text: string, env: Record<string, string> = ENV): string {
  try {
    parseRoutingFile(text, "x.jsonc", env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail("expected a ConfigError");
}

const P = `"p": { "base_url": "http://127.0.0.1:1/v1", "api_key": "\${OPENAI_API_KEY}" }`;

describe("routing file: parsing and errors", () => {
  it("accepts the example config, comments and trailing commas included", () => {
    const text = readFileSync(new URL("../examples/config.jsonc", import.meta.url), "utf8");
    const { file, warnings } = parseRoutingFile(text, "examples/config.jsonc", ENV);
    assert.deepEqual(warnings, []);
    assert.deepEqual(Object.keys(file.providers), ["main", "spare", "ds"]);
    assert.equal(file.providers.main!.api_key, "sk-a");
    assert.deepEqual(file.providers.spare!.api_keys, ["k1", "k2"]);
    assert.equal(file.routes.length, 5);
  });

  const cases: { name: string; text: string; expected: RegExp; env?: Record<string, string> }[] = [
    {
      name: "a syntax error, with line and column",
      text: `{\n  "providers": { ${P} \n  "models": {} }`,
      expected: /line \d+, column \d+: CommaExpected/,
    },
    {
      name: "a missing variable, with the variable and the JSON path",
      text: `{ "providers": { "p": { "base_url": "http://h/v1", "api_key": "\${NOPE_KEY}" } } }`,
      expected: /providers\.p\.api_key: variable NOPE_KEY is not set/,
    },
    {
      name: "a bad URL",
      text: `{ "providers": { "main": { "base_url": "ftp://x" } } }`,
      expected: /providers\.main\.base_url: must be an http\(s\) URL/,
    },
    {
      name: "an unknown key, with a hint",
      text: `{ "providers": { "p": { "base_url": "http://h/v1", "api_kye": "x" } } }`,
      expected: /providers\.p\.api_kye: unknown key \(did you mean "api_key"\?\)/,
    },
    {
      name: "an unknown top-level key",
      text: `{ "providers": { ${P} }, "route": [] }`,
      expected: /route: unknown key \(did you mean "routes"\?\)/,
    },
    {
      name: "an unknown route condition",
      text: `{ "providers": { ${P} }, "routes": [{ "if": { "thinkin": true }, "to": "p/x" }] }`,
      expected: /routes\[0\]\.if\.thinkin: unknown key \(did you mean "thinking"\?\)/,
    },
    {
      name: "a chain naming an unknown provider",
      text: `{ "providers": { ${P} }, "models": { "opus": ["p/a", "q/b"] } }`,
      expected: /models\.opus\[1\]: unknown provider "q"/,
    },
    {
      name: "a chain entry without a model",
      text: `{ "providers": { ${P} }, "routes": [{ "if": { "images": true }, "to": ["p"] }] }`,
      expected: /routes\[0\]\.to\[0\]: "p" must be provider\/model/,
    },
    {
      name: "an unknown api",
      text: `{ "providers": { "r": { "base_url": "http://h/v1", "api": "completions" } } }`,
      expected: /providers\.r\.api/,
    },
    {
      name: "an unknown fallback cause",
      text: `{ "providers": { ${P} }, "fallback": { "on": ["4xx"] } }`,
      expected: /fallback\.on\[0\]/,
    },
    {
      name: "api_key and api_keys together",
      text:
        `{ "providers": { "p": { "base_url": "http://h/v1", "api_key": "\${OR_KEY_1}", "api_keys": ["\${OR_KEY_2}"] } } }`,
      expected: /providers\.p: give api_key or api_keys, not both/,
    },
    {
      name: "no providers",
      text: `{ "providers": {} }`,
      expected: /providers: name at least one provider/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}`, () => assert.match(errorOf(c.text, c.env), c.expected));
  }

  it("lists every mistake at once: schema, unknown keys and chains (the docs' example)", () => {
    const text = `{
      "providers": {
        "main": { "base_url": "localhost:8080" },
        "spare": { "base_url": "http://127.0.0.1:1/v1", "api_kye": "\${OR_KEY_1}" },
      },
      "models": { "opus": ["main/gpt-5", "sapre/openai/gpt-5"] },
    }`;
    assert.equal(
      errorOf(text),
      [
        "invalid config file x.jsonc:",
        "  providers.main.base_url: must be an http(s) URL",
        '  providers.spare.api_kye: unknown key (did you mean "api_key"?)',
        '  models.opus[1]: unknown provider "sapre" (did you mean "spare"?)',
      ].join("\n"),
    );
  });

  const together: { name: string; text: string; expected: string[] }[] = [
    {
      name: "a variable not set, once, and a chain's unknown provider",
      text: `{ "providers": { "p": { "base_url": "http://h/v1", "api_key": "\${NOPE_KEY}" } },
        "routes": [{ "if": { "images": true }, "to": "zzz/m" }] }`,
      expected: [
        "  providers.p.api_key: variable NOPE_KEY is not set",
        '  routes[0].to: unknown provider "zzz" (providers: p)',
      ],
    },
    {
      name: "an unknown tier, with a hint, and a bad entry in a known one",
      text: `{ "providers": { ${P} }, "models": { "opsu": "p/a", "haiku": ["p/b", "zzz/c"] } }`,
      expected: [
        '  models.opsu: unknown key (did you mean "opus"?)',
        '  models.haiku[1]: unknown provider "zzz" (providers: p)',
      ],
    },
    {
      name: "a provider name with a slash, saying why it may not have one",
      text: `{ "providers": { "a/b": { "base_url": "http://h/v1" }, ${P} } }`,
      expected: [
        '  providers.a/b: a provider name may not contain "/" or ",": they separate provider ' +
        'and model in "provider/model"',
      ],
    },
  ];
  for (const c of together) {
    it(`reports ${c.name}`, () => {
      assert.deepEqual(errorOf(c.text).split("\n").slice(1), c.expected);
    });
  }

  it("warns about a key written in the file, without repeating it", () => {
    const { warnings } = parseRoutingFile(
      `{ "providers": { "p": { "base_url": "http://h/v1", "api_key": "sk-literal-123456" } } }`,
      "x.jsonc",
      ENV,
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /providers\.p\.api_key holds a key written in the config file/);
    assert.doesNotMatch(warnings[0]!, /sk-literal/);
  });
});

describe("routing file: choosing the chain", () => {
  const text = readFileSync(new URL("../examples/config.jsonc", import.meta.url), "utf8");
  const config = configFromEnv(ENV);
  const { router } = buildRouter(config, text, ENV, new Health());
  const user = (content: unknown) =>
    ({ role: "user" as const, content }) as RoutableRequest["messages"][number];
  const base: RoutableRequest = { model: "claude-sonnet-4-5", messages: [user("hi")] };
  const image = {
    type: "image",
    source: { type: "base64", media_type: "image/png", data: "AAAA" },
  };

  const table: {
    name: string;
    req: RoutableRequest;
    tokens?: number;
    chain: string;
    via: string;
  }[] = [
    { name: "a tier", req: base, chain: "main/gpt-5 → spare/openai/gpt-5", via: "models.sonnet" },
    {
      name: "fable maps with opus",
      req: { ...base, model: "claude-fable-5" },
      chain: "main/gpt-5 → spare/openai/gpt-5",
      via: "models.opus",
    },
    {
      name: "thinking enabled",
      req: { ...base, thinking: { type: "enabled", budget_tokens: 2000 } },
      chain: "ds/deepseek-reasoner → main/gpt-5",
      via: "routes[0]",
    },
    {
      name: "adaptive thinking",
      req: { ...base, thinking: { type: "adaptive" } },
      chain: "ds/deepseek-reasoner → main/gpt-5",
      via: "routes[0]",
    },
    {
      name: "an effort set",
      req: { ...base, output_config: { effort: "high" } },
      chain: "ds/deepseek-reasoner → main/gpt-5",
      via: "routes[0]",
    },
    {
      name: "thinking disabled is no thinking",
      req: { ...base, thinking: { type: "disabled" } },
      chain: "main/gpt-5 → spare/openai/gpt-5",
      via: "models.sonnet",
    },
    {
      name: "a long conversation",
      req: base,
      tokens: 150_000,
      chain: "spare/google/gemini-2.5-pro",
      via: "routes[1]",
    },
    {
      name: "an image",
      req: { ...base, messages: [user([image])] },
      chain: "main/gpt-5",
      via: "routes[2]",
    },
    {
      name: "an image in a tool result",
      req: {
        ...base,
        messages: [user([{ type: "tool_result", tool_use_id: "t1", content: [image] }])],
      },
      chain: "main/gpt-5",
      via: "routes[2]",
    },
    {
      name: "a server tool by type",
      req: { ...base, tools: [{ name: "web", type: "web_search_20250305" }] },
      chain: "spare/perplexity/sonar",
      via: "routes[3]",
    },
    {
      name: "background calls by glob",
      req: { ...base, model: "claude-haiku-4-5-20251001" },
      chain: "main/gpt-5-mini",
      via: "routes[4]",
    },
    {
      name: "explicit provider/model first",
      req: { ...base, model: "spare/qwen/qwen3-coder", thinking: { type: "enabled" } },
      chain: "spare/qwen/qwen3-coder",
      via: "explicit",
    },
    {
      name: "explicit provider,model",
      req: { ...base, model: "ds,deepseek-chat" },
      chain: "ds/deepseek-chat",
      via: "explicit",
    },
    {
      name: "an unknown prefix is a plain name",
      req: { ...base, model: "acme/model-x" },
      chain: "main/acme/model-x",
      via: "default",
    },
    {
      name: "another name goes to the first provider",
      req: { ...base, model: "gpt-4.1" },
      chain: "main/gpt-4.1",
      via: "default",
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      let counted = 0;
      const routed = router.route(row.req, () => {
        counted++;
        return row.tokens ?? 10;
      });
      assert.equal(describeChain(routed.chain), row.chain);
      assert.equal(routed.via, row.via);
      assert.ok(counted <= 1, "the estimate is asked for at most once");
    });
  }

  it("does not estimate tokens when no rule before the match needs it", () => {
    let counted = 0;
    router.route({ ...base, thinking: { type: "enabled" } }, () => counted++);
    assert.equal(counted, 0);
  });
});
