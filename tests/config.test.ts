/** configFromEnv beyond the docs checks: spellings it accepts, and where it refuses to start. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, configFromEnv } from "../lib/ops/config.ts";

const key = { OPENAI_API_KEY: "sk-x" };

describe("configFromEnv", () => {
  it("takes LOG_FORMAT and PROVIDER in any case, like LOG_LEVEL", () => {
    const c = configFromEnv({
      ...key,
      LOG_FORMAT: "JSON",
      PROVIDER: " OpenRouter ",
      LOG_LEVEL: "Warn",
    });
    assert.equal(c.logFormat, "json");
    assert.equal(c.provider, "openrouter");
    assert.equal(c.logLevel, "warning");
    assert.throws(() => configFromEnv({ ...key, LOG_FORMAT: "yaml" }), /LOG_FORMAT/);
  });

  it("refuses an open proxy on Deno Deploy, where every deployment is public", () => {
    const deploy = { ...key, DENO_DEPLOYMENT_ID: "abc123" };
    assert.throws(
      () => configFromEnv(deploy),
      (err: unknown) =>
        err instanceof ConfigError && /Deno Deploy without ANTHROPIC_API_KEY/.test(err.message),
    );
    assert.equal(configFromEnv({ ...deploy, ANTHROPIC_API_KEY: "k-123456" }).host, "127.0.0.1");
    assert.ok(configFromEnv({ ...deploy, ALLOW_REMOTE_WITHOUT_KEY: "true" }));
    assert.ok(configFromEnv({ ...key, DENO_DEPLOYMENT_ID: "" }), "not on Deploy");
  });
});
