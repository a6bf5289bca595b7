/**
 * Hot reload of the routing file, in a real child process (`main.ts --config FILE`): a valid
 * edit applies to new requests within 2 s, an invalid one keeps the running configuration and
 * logs its JSON path, a stream in flight finishes on the configuration it started with, and
 * SIGHUP reloads too. Also the start-up banner and a refused file.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  completion,
  type FakeUpstream,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import { type ChildProxy, startProxyProcess, TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";

let upstream: FakeUpstream;
let dir: string;
let child: ChildProxy;
let base: string;
let file: string;

const config = (opus: string, extra = "") =>
  `{
  // reload test
  "providers": {
    "main": { "base_url": "${upstream.url}", "api_key": "\${KEY_A}", "models": ["m1", "m2"] },
  },
  "models": { "opus": ["main/${opus}"] },
  ${extra}
}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  upstream = await startFakeUpstream((req) =>
    req.body?.stream
      ? { sse: textStream(`answer from ${req.body.model}`, { parts: 6 }), gapMs: 150 }
      : { json: completion({ content: `answer from ${req.body.model}` }) }
  );
  dir = mkdtempSync(join(tmpdir(), "ccp-reload-"));
  file = join(dir, "config.jsonc");
  writeFileSync(file, config("m1"));
  child = startProxyProcess(
    { KEY_A: TEST_UPSTREAM_KEY, LOG_FORMAT: "json", PORT: "0", MAX_RETRIES: "0" },
    ["--config", file, "--env-file", join(dir, "config.jsonc").replace("config.jsonc", ".env")],
  );
  // An empty .env: --env-file must exist.
  writeFileSync(join(dir, ".env"), "");
  base = `http://127.0.0.1:${await child.listening}`;
});
after(async () => {
  child.kill("SIGTERM");
  await child.exited;
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

async function askOpus(stream = false): Promise<string> {
  const res = await fetch(`${base}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-opus-4-1",
      max_tokens: 50,
      stream,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
  return await res.text();
}

/** Asks until the answer matches, for at most 2 s (the reload promise). */
async function within2s(re: RegExp): Promise<boolean> {
  const until = Date.now() + 2_000;
  for (let i = 0; i < 40 && Date.now() < until; i++) {
    if (re.test(await askOpus())) return true;
    await sleep(50);
  }
  return false;
}

describe("routing file hot reload", () => {
  it("shows providers, tiers and fallback in the banner, keys left out", () => {
    const out = child.output();
    assert.match(
      out,
      /main \(auto, http:\/\/127\.0\.0\.1:\d+\/v1, key sk-\*\*\*\*ef \(\d+ chars\)\)/,
    );
    assert.match(out, /opus → main\/m1/);
    assert.ok(!out.includes(TEST_UPSTREAM_KEY));
  });

  it("applies a valid edit to new requests within 2 s", async () => {
    assert.match(await askOpus(), /answer from m1/);
    writeFileSync(file, config("m2"));
    assert.ok(await within2s(/answer from m2/), "the edit applied");
  });

  it("keeps the running configuration on an invalid edit and logs the JSON path", async () => {
    writeFileSync(file, config("m1", `"fallback": { "cooldown": 5 },`));
    const until = Date.now() + 2_000;
    while (!child.output().includes("not reloaded") && Date.now() < until) await sleep(50);
    assert.match(
      child.output(),
      /fallback\.cooldown: unknown key \(did you mean \\"cooldown_s\\"\?\)/,
    );
    assert.match(await askOpus(), /answer from m2/);
    writeFileSync(file, "{ not json");
    await sleep(400);
    assert.match(await askOpus(), /answer from m2/, "still serving");
  });

  it("logs a variable that is not set by its name, not redacted as if it were a key", async () => {
    const before = child.output().split("not reloaded").length;
    writeFileSync(file, config("m1").replace("${KEY_A}", "${NOPE_KEY}"));
    const until = Date.now() + 2_000;
    while (child.output().split("not reloaded").length === before && Date.now() < until) {
      await sleep(50);
    }
    assert.match(child.output(), /providers\.main\.api_key: variable NOPE_KEY is not set/);
    assert.match(await askOpus(), /answer from m2/, "still serving");
  });

  it("lets a stream in flight finish on the configuration it started with", async () => {
    writeFileSync(file, config("m1"));
    assert.ok(await within2s(/answer from m1/));
    const streaming = askOpus(true);
    await sleep(200);
    writeFileSync(file, config("m2"));
    const text = await streaming;
    assert.match(text, /event: message_stop/);
    assert.ok(!text.includes("event: error"));
    assert.ok(await within2s(/answer from m2/));
  });

  it("reloads on SIGHUP", async () => {
    const before = child.output().split("SIGHUP").length;
    child.kill("SIGHUP");
    const until = Date.now() + 2_000;
    while (child.output().split("SIGHUP").length === before && Date.now() < until) await sleep(50);
    assert.match(child.output(), /config file reloaded[^\n]*SIGHUP/);
  });
});

describe("routing file at start-up", () => {
  it("refuses an invalid file with its JSON path and a non-zero exit", async () => {
    const bad = join(dir, "bad.jsonc");
    writeFileSync(bad, `{ "providers": { "main": { "base_url": "nope" } } }`);
    const p = startProxyProcess({ PORT: "0" }, ["--config", bad]);
    p.listening.catch(() => {});
    const code = await p.exited;
    assert.equal(code, 1);
    assert.match(p.output(), /providers\.main\.base_url: must be an http\(s\) URL/);
  });
});
