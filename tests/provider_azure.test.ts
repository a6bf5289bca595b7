/**
 * Azure OpenAI: the three URL shapes (deployment URL with api-version, resource root with the
 * deployment taken from the model name, and the versionless `/openai/v1` API), the `api-key`
 * header, and OpenAI's reasoning-model rules for deployments whose names say nothing.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TEST_UPSTREAM_KEY } from "./helpers/proxy.ts";
import {
  bodyOf,
  postToFake,
  sdkCreate,
  sdkStream,
  startAzureFake,
} from "./helpers/provider_fakes.ts";
import { providerHarness } from "./helpers/provider_harness.ts";
import { assertGrammar } from "./api_support.ts";

describe("Azure OpenAI", () => {
  const up = providerHarness({
    start: (respond) =>
      startAzureFake({
        key: TEST_UPSTREAM_KEY,
        deployments: { "prod-gpt4o": "gpt-4o", "reasoner": "o4-mini" },
      }, respond),
    env: () => ({ PROVIDER: "azure" }),
    respond: () => ({ content: "Hello from Azure." }),
  });
  const { via, last } = up;

  it("the fake answers like Azure: 404 without api-version or with a dated one on /openai/v1, 401 for a Bearer key", async () => {
    const body = { model: "prod-gpt4o", messages: [{ role: "user", content: "hi" }] };
    const key = { "api-key": TEST_UPSTREAM_KEY };
    const noVersion = await postToFake(
      `${up.fake.origin}/openai/deployments/prod-gpt4o/chat/completions`,
      body,
      key,
    );
    assert.equal(noVersion.status, 404);
    const datedV1 = await postToFake(
      `${up.fake.origin}/openai/v1/chat/completions?api-version=2024-10-21`,
      body,
      key,
    );
    assert.equal(datedV1.status, 404);
    const bearer = await postToFake(`${up.fake.origin}/openai/v1/chat/completions`, body, {
      authorization: `Bearer ${TEST_UPSTREAM_KEY}`,
    });
    assert.equal(bearer.status, 401);
  });

  it("a deployment URL gets /chat/completions, AZURE_API_VERSION and the api-key header", async () => {
    const { client } = via({
      OPENAI_BASE_URL: `${up.fake.origin}/openai/deployments/prod-gpt4o`,
      AZURE_API_VERSION: "2025-04-01-preview",
    });
    const { events, final } = await sdkStream(client, {});
    assertGrammar(events.map((e) => ({ event: e.type, data: e })));
    assert.deepEqual(final.content.map((b) => (b.type === "text" ? b.text : b.type)), [
      "Hello from Azure.",
    ]);
    const req = last();
    assert.equal(
      req.path,
      "/openai/deployments/prod-gpt4o/chat/completions?api-version=2025-04-01-preview",
    );
    assert.equal(req.headers["api-key"], TEST_UPSTREAM_KEY);
    assert.equal(
      req.headers["authorization"],
      undefined,
      "the key is not also sent as a Bearer token",
    );
  });

  it("without AZURE_API_VERSION a GA api-version is sent", async () => {
    const { client } = via({ OPENAI_BASE_URL: `${up.fake.origin}/openai/deployments/prod-gpt4o` });
    await sdkCreate(client, {});
    assert.match(last().path, /\?api-version=\d{4}-\d{2}-\d{2}$/);
  });

  it("a resource-root base URL takes the deployment from the model name", async () => {
    for (const base of [up.fake.origin, `${up.fake.origin}/openai`]) {
      const { client } = via({
        OPENAI_BASE_URL: base,
        BIG_MODEL: "prod-gpt4o",
        AZURE_API_VERSION: "2024-10-21",
      });
      await sdkCreate(client, { model: "claude-opus-4-8" });
      assert.equal(
        last().path,
        "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21",
        base,
      );
    }
  });

  it("the /openai/v1 API gets no api-version, even with AZURE_API_VERSION set", async () => {
    const { client } = via({
      OPENAI_BASE_URL: `${up.fake.origin}/openai/v1`,
      BIG_MODEL: "prod-gpt4o",
      AZURE_API_VERSION: "2024-10-21",
    });
    const { final } = await sdkStream(client, { model: "claude-opus-4-8" });
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(last().path, "/openai/v1/chat/completions");
    assert.equal(bodyOf(last()).model, "prod-gpt4o");
  });

  it("a full chat/completions URL pasted as the base URL is used as it is", async () => {
    const { client } = via({
      OPENAI_BASE_URL:
        `${up.fake.origin}/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-06-01`,
    });
    await sdkCreate(client, {});
    assert.equal(
      last().path,
      "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-06-01",
    );
  });

  it("a reasoning deployment listed in REASONING_MODELS follows OpenAI's reasoning-model rules", async () => {
    const { client } = via({
      OPENAI_BASE_URL: up.fake.origin,
      BIG_MODEL: "reasoner",
      REASONING_MODELS: "reasoner",
    });
    const refused = up.fake.rejections.length;
    await sdkStream(client, {
      model: "claude-opus-4-8",
      max_tokens: 30_000,
      temperature: 0.3,
      stop_sequences: ["END"],
      thinking: { type: "enabled", budget_tokens: 20_000 },
    });
    assert.equal(up.fake.rejections.length, refused);
    const body = bodyOf(last());
    assert.equal(
      body.max_completion_tokens,
      16_384,
      "unknown name: the default output cap applies",
    );
    assert.equal(body.reasoning_effort, "high");
    for (const key of ["max_tokens", "temperature", "stop"]) assert.ok(!(key in body), key);
  });
});
