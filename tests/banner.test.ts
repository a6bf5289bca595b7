/**
 * The start-up banner's content: its paste line must work as pasted into a shell, its auth line
 * must say who can use the proxy, and with LOG_FORMAT=json it is one JSON line. (The banner of a
 * running main.ts is checked in cli.test.ts.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { configFromEnv } from "../lib/ops/config.ts";
import { banner, bannerFields, bannerJson, redactKey } from "../lib/cli/banner.ts";
import { displayUrl } from "../lib/common/secret_values.ts";
import { TEST_CLIENT_KEY, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";

const base = { OPENAI_API_KEY: TEST_UPSTREAM_KEY, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" };

/** Runs the paste line in /bin/sh with `claude` replaced by `env`, and returns what it got. */
function pasted(
  line: string,
  shellEnv: Record<string, string>,
  shell = "/bin/sh",
): Record<string, string> {
  assert.match(line, / claude$/);
  const r = spawnSync(shell, ["-c", line.replace(/ claude$/, " env")], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...shellEnv },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `the pasted line fails: ${r.stderr}`);
  return Object.fromEntries(
    r.stdout.split("\n").filter((l) => l.includes("=")).map((l) => {
      const eq = l.indexOf("=");
      return [l.slice(0, eq), l.slice(eq + 1)];
    }),
  );
}

describe("keys in the banner", () => {
  it("show their public kind and length, and two last characters only of a long key", () => {
    assert.equal(redactKey(undefined), "(not set)");
    assert.equal(redactKey("SECRETANTH"), "**** (10 chars)");
    assert.equal(redactKey("sk-abcdefgh12"), "sk-**** (13 chars)");
    assert.equal(redactKey("sk-proj-0123456789abcdefghijXY"), "sk-proj-****XY (30 chars)");
    assert.equal(
      redactKey("sk-ant-api03-0123456789abcdefghij-zz"),
      "sk-ant-api03-****zz (36 chars)",
    );
    // A random part with dashes in it is not a kind.
    assert.equal(redactKey("sk-proj-Ab12-x9_0123456789abcd34"), "sk-proj-****34 (32 chars)");
    assert.equal(redactKey("sk-a1b2-c3d4-e5f6-0123456789gh"), "sk-****gh (30 chars)");
    assert.equal(redactKey("tvly-AB12C-0123456789abcdefbc"), "tvly-****bc (29 chars)");
    // Nothing of a short key's secret part shows.
    for (const key of ["abcdefghi", "SECRETANTH", "sk-0123456789abcdefghi"]) {
      const shown = redactKey(key).replace(/ \(\d+ chars\)$/, "").replaceAll("*", "");
      assert.ok(shown === "" || shown === "sk-", `${key} shows ${shown}`);
    }
  });
});

describe("start-up banner", () => {
  it("names the OpenAI API setting and the dashboard's address (none with DASHBOARD=false)", () => {
    const text = banner(configFromEnv({ ...base, OPENAI_API: "responses" }), 8082);
    assert.match(text, /upstream +http:\/\/127\.0\.0\.1:9\/v1 \(provider: [a-z]+, api: responses,/);
    assert.match(text, /^ {2}dashboard +http:\/\/127\.0\.0\.1:8082\/ui$/m);
    assert.doesNotMatch(banner(configFromEnv({ ...base, DASHBOARD: "false" }), 8082), /dashboard/);
  });

  it("the Claude Code line works as pasted, with a proxy key too, and shows no key", () => {
    const open = bannerFields(configFromEnv(base), 8082);
    const env = pasted(open.claude_code, {});
    assert.equal(env.ANTHROPIC_BASE_URL, "http://127.0.0.1:8082");
    // A token, not ANTHROPIC_API_KEY: Claude Code asks before using an unknown API key (default
    // "No"), never before using a token.
    assert.ok(env.ANTHROPIC_AUTH_TOKEN, "some token is sent (any works)");
    assert.ok(!env.ANTHROPIC_API_KEY);

    const keyed = configFromEnv({ ...base, ANTHROPIC_API_KEY: TEST_CLIENT_KEY });
    const line = bannerFields(keyed, 8082).claude_code;
    assert.ok(!line.includes(TEST_CLIENT_KEY));
    for (const shell of ["/bin/sh", "bash"]) {
      const sent = pasted(line, { ANTHROPIC_API_KEY: TEST_CLIENT_KEY }, shell);
      assert.equal(sent.ANTHROPIC_AUTH_TOKEN, TEST_CLIENT_KEY, shell);
      assert.ok(!sent.ANTHROPIC_API_KEY, `${shell}: the key variable is emptied for Claude Code`);
      assert.equal(sent.ANTHROPIC_BASE_URL, "http://127.0.0.1:8082");
    }
  });

  it("wildcard hosts are reached on loopback; IPv6 literals get brackets", () => {
    const cases = [
      { host: "0.0.0.0", url: "http://127.0.0.1:1234" },
      { host: "::", url: "http://127.0.0.1:1234" },
      { host: "::1", url: "http://[::1]:1234" },
      { host: "localhost", url: "http://localhost:1234" },
    ];
    for (const c of cases) {
      const config = configFromEnv({ ...base, HOST: c.host, ANTHROPIC_API_KEY: TEST_CLIENT_KEY });
      const line = bannerFields(config, 1234).claude_code;
      assert.equal(pasted(line, {}).ANTHROPIC_BASE_URL, c.url, c.host);
    }
  });

  it("an open proxy on a non-loopback address says that anyone who can reach it may use it", () => {
    const local = bannerFields(configFromEnv(base), 1);
    assert.match(local.auth, /any client on this machine/);
    const remote = bannerFields(
      configFromEnv({ ...base, HOST: "0.0.0.0", ALLOW_REMOTE_WITHOUT_KEY: "true" }),
      1,
    );
    assert.doesNotMatch(remote.auth, /on this machine/);
    assert.match(remote.auth, /anyone who can reach/);
  });

  it("is one JSON line with every field for LOG_FORMAT=json, and text otherwise", () => {
    const config = configFromEnv({ ...base, ANTHROPIC_API_KEY: TEST_CLIENT_KEY, BIG_MODEL: "b" });
    const line = bannerJson(config, 8082, new Date(0));
    assert.ok(!line.includes("\n"));
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.equal(parsed.level, "info");
    assert.match(String(parsed.msg), /listening on http:\/\/127\.0\.0\.1:8082/);
    assert.deepEqual(parsed.models, { opus: "b", sonnet: "b", haiku: "gpt-4o-mini" });
    assert.equal(parsed.upstream, "http://127.0.0.1:9/v1");
    assert.match(String(parsed.claude_code), /^ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8082 /);
    for (const text of [line, banner(config, 8082)]) {
      assert.ok(!text.includes(TEST_CLIENT_KEY) && !text.includes(TEST_UPSTREAM_KEY));
    }
  });

  it("masks a password or a key-like query parameter in the upstream URL", () => {
    const config = configFromEnv({
      OPENAI_API_KEY: TEST_UPSTREAM_KEY,
      OPENAI_BASE_URL: "https://user:s3cr3t-pass@gateway.example/v1",
    });
    const text = banner(config, 1);
    assert.ok(!text.includes("s3cr3t-pass"), text);
    assert.match(text, /https:\/\/user:\*\*\*\*@gateway\.example\/v1/);
    assert.equal(
      displayUrl("https://r.example/v1?api-version=1&api_key=abc123"),
      "https://r.example/v1?api-version=1&api_key=****",
    );
    assert.equal(displayUrl("https://api.openai.com/v1"), "https://api.openai.com/v1");
  });
});
