/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core (no
 * browser download). The page asks for the proxy's key once, a request made through the proxy
 * appears in the table within a second, the chart draws, and a failed request shows its
 * message. A screenshot is kept in test-artifacts/dashboard.png.
 * Skipped where /usr/bin/chromium is missing (.ci/run installs it).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import {
  completion,
  type FakeUpstream,
  openaiError,
  startFakeUpstream,
  textStream,
} from "./helpers/fake_upstream.ts";
import { repoRoot, TEST_CLIENT_KEY } from "./helpers/proxy.ts";
import { type OpsProxy, startOpsProxy } from "./helpers/ops_proxy.ts";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function script(req: { body?: { messages?: unknown; stream?: boolean } }) {
  const text = JSON.stringify(req.body?.messages ?? []);
  if (text.includes("please fail")) {
    return { status: 400, json: openaiError("model 'gpt-4o' does not support this parameter") };
  }
  if (text.includes("tiny")) {
    return {
      json: completion({ content: "ok", usage: { prompt_tokens: 2, completion_tokens: 1 } }),
    };
  }
  if (req.body?.stream) {
    return { sse: textStream("hi", { usage: { prompt_tokens: 5000, completion_tokens: 700 } }) };
  }
  return {
    json: completion({
      content: "ok",
      usage: { prompt_tokens: 12_000, completion_tokens: 900, cached_tokens: 4_000 },
    }),
  };
}

const ask = (proxy: OpsProxy, content: string, stream = false) =>
  fetch(`${proxy.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
    body: JSON.stringify({
      model: "claude-opus-4-5",
      max_tokens: 32,
      stream,
      messages: [{ role: "user", content }],
    }),
  }).then(async (r) => ({
    status: r.status,
    id: r.headers.get("request-id")!,
    text: await r.text(),
  }));

const available = existsSync(CHROMIUM);

describe("dashboard in Chromium", { skip: available ? false : `${CHROMIUM} not installed` }, () => {
  let upstream: FakeUpstream;
  let proxy: OpsProxy;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  before(async () => {
    upstream = await startFakeUpstream(script);
    proxy = await startOpsProxy({
      OPENAI_BASE_URL: upstream.url,
      ANTHROPIC_API_KEY: TEST_CLIENT_KEY,
      BIG_MODEL: "gpt-4o",
      USAGE_DB: "off",
    });
    profile = mkdtempSync(join(tmpdir(), "ccp-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 1000 },
    });
    page = context.pages()[0] ?? await context.newPage();
  });
  after(async () => {
    await context?.close();
    await proxy?.close();
    await upstream?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("asks for the key once and keeps it for the tab", async () => {
    await page.goto(`${proxy.url}/ui`);
    await page.waitForSelector("#login:not([hidden])", { timeout: 5_000 });
    await page.fill("#key", "wrong-key");
    await page.click("#loginForm button");
    // A selector, not a predicate: the page's CSP forbids the eval a predicate would need.
    await page.waitForSelector("#loginError:has-text('not accepted')", { timeout: 5_000 });
    await page.fill("#key", TEST_CLIENT_KEY);
    await page.click("#loginForm button");
    await page.waitForSelector("#app:not([hidden])", { timeout: 5_000 });
    await page.waitForSelector("#live.live", { timeout: 5_000 });
    // A reload in the same tab does not ask again.
    await page.reload();
    await page.waitForSelector("#live.live", { timeout: 5_000 });
    assert.equal(await page.isHidden("#login"), true);
  });

  it("shows a request made through the proxy within a second, and draws the chart", async () => {
    const before = Number(await page.getAttribute("#chart", "data-drawn"));
    const plain = await ask(proxy, "hello");
    assert.equal(plain.status, 200);
    const row = await page.waitForSelector(`#recent tr[data-id="${plain.id}"]`, {
      timeout: 1_000,
    });
    const text = await row.innerText();
    assert.match(text, /claude-opus-4-5 → default\/gpt-4o/);
    assert.match(text, /8,000/); // uncached input
    assert.match(text, /4,000/); // cached input
    const streamed = await ask(proxy, "stream", true);
    await page.waitForSelector(`#recent tr[data-id="${streamed.id}"]`, { timeout: 1_000 });
    const drawn = Number(await page.getAttribute("#chart", "data-drawn"));
    assert.ok(drawn > before, "the chart was redrawn");
    assert.ok(Number(await page.getAttribute("#chart", "data-bars")) > 0, "bars for the tokens");
    // Pixels, not only the counter: something other than the background was painted.
    // Text, since the tests are type-checked without the DOM's types; run over the DevTools
    // protocol, which the page's CSP does not restrict.
    const painted = await page.evaluate(`(() => {
      const c = document.getElementById("chart");
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    })()`);
    assert.ok(Number(painted) > 500, `painted pixels: ${painted}`);
    assert.match(await page.innerText("#cRequests"), /^2$/);
    assert.match(await page.innerText("#cCost"), /^\$/);
  });

  it("leaves a gap in the cost line for an hour with a model of unknown price", async () => {
    assert.equal(await page.getAttribute("#chart", "data-cost-gaps"), "0");
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: JSON.stringify({
        model: "unpriced-local-model",
        max_tokens: 32,
        messages: [{ role: "user", content: "hello" }],
      }),
    });
    const id = res.headers.get("request-id")!;
    await res.text();
    await page.waitForSelector(`#recent tr[data-id="${id}"]`, { timeout: 1_000 });
    await page.waitForSelector('#chart[data-cost-gaps="1"]', { timeout: 1_000 });
    assert.equal(await page.innerText("#cCost"), "\u2014");
  });

  it("shows a cost below a hundredth of a cent, not $0.0000", async () => {
    const tiny = await ask(proxy, "tiny");
    const row = await page.waitForSelector(`#recent tr[data-id="${tiny.id}"]`, { timeout: 1_000 });
    // gpt-4o: 2 input tokens at $2.50 and 1 output token at $10 per million.
    assert.match(await row.innerText(), /\$0\.000015\b/);
  });

  it("counts a burst whole, though a busy feed sends only the latest rows", async () => {
    const before = Number((await page.innerText("#cRequests")).replace(/,/g, ""));
    const answers: { id: string | null }[] = [];
    // Four waves of 40 at once: more requests finish within one of the feed's flushes than
    // it sends as rows.
    for (let wave = 0; wave < 4; wave++) {
      answers.push(...await Promise.all(Array.from({ length: 40 }, () => ask(proxy, "hello"))));
    }
    assert.equal(answers.length, 160);
    // The latest request is always among the rows sent.
    const last = await ask(proxy, "hello");
    await page.waitForSelector(`#recent tr[data-id="${last.id}"]`, { timeout: 1_000 });
    await page.waitForFunction(
      `document.getElementById("cRequests").innerText.replace(/,/g, "") === "${before + 161}"`,
      undefined,
      { timeout: 2_000 },
    );
    assert.ok(
      Number(await page.evaluate(`document.querySelectorAll("#recent tbody tr").length`)) <= 200,
    );
    assert.match(await page.innerText("#cOpen"), /^0$/);
  });

  it("shows a failed request's message", async () => {
    const failed = await ask(proxy, "please fail");
    assert.equal(failed.status, 400);
    const row = await page.waitForSelector(`#recent tr[data-id="${failed.id}"]`, {
      timeout: 1_000,
    });
    assert.match(await row.innerText(), /invalid_request_error: model 'gpt-4o' does not support/);
    assert.equal(await row.getAttribute("class"), "err");
    // Refused by the proxy itself (no max_tokens): named by its model, sent nowhere, cost $0.
    const invalid = await fetch(`${proxy.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": TEST_CLIENT_KEY },
      body: JSON.stringify({ model: "claude-opus-4-5", messages: [] }),
    });
    assert.equal(invalid.status, 400);
    await invalid.text();
    const refused = await page.waitForSelector(
      `#recent tr[data-id="${invalid.headers.get("request-id")}"]`,
      { timeout: 1_000 },
    );
    const refusedText = await refused.innerText();
    assert.match(refusedText, /claude-opus-4-5 → \(not sent upstream\)/);
    assert.match(refusedText, /\$0\.00/);
    const dir = join(repoRoot, "test-artifacts");
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, "dashboard.png"), fullPage: true });
  });
});
