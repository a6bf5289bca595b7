/**
 * Errors keep their meaning: malformed client requests are 400 invalid_request_error naming
 * the field, and upstream failures map to the Anthropic error types
 * (https://docs.anthropic.com/en/api/errors) with the upstream's own message.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import Anthropic from "@anthropic-ai/sdk";
import { completion, openaiError } from "./helpers/fake_upstream.ts";
import { startProxy } from "./helpers/proxy.ts";
import {
  assertAnthropicError,
  body,
  type Harness,
  parseSse,
  postJson,
  startHarness,
} from "./api_support.ts";

describe("malformed requests", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    h.reply({ json: completion({ content: "fine" }) });
  });
  after(() => h.close());

  const messagesUrl = () => `${h.proxy.url}/v1/messages`;

  it("invalid JSON → 400 invalid_request_error that says so", async () => {
    const message = await assertAnthropicError(
      await postJson(messagesUrl(), '{"model": "claude-sonnet-4-6", "max_tokens": 10,'),
      400,
      "invalid_request_error",
    );
    assert.match(message, /json/i);
  });

  it("an empty body → 400 invalid_request_error", async () => {
    await assertAnthropicError(await postJson(messagesUrl(), ""), 400, "invalid_request_error");
  });

  const cases: [string, unknown, RegExp][] = [
    ["missing model", { max_tokens: 10, messages: [{ role: "user", content: "hi" }] }, /\bmodel\b/],
    ["missing messages", { model: "claude-sonnet-4-6", max_tokens: 10 }, /\bmessages\b/],
    ["missing max_tokens", {
      model: "claude-sonnet-4-6",
      messages: [{ role: "user", content: "hi" }],
    }, /\bmax_tokens\b/],
    ["model of the wrong type", body({ model: 42 }), /\bmodel\b/],
    ["max_tokens as a string", body({ max_tokens: "100" }), /\bmax_tokens\b/],
    ["negative max_tokens", body({ max_tokens: -1 }), /\bmax_tokens\b/],
    ["messages as a string", body({ messages: "hello" }), /\bmessages\b/],
    [
      "an unknown role",
      body({ messages: [{ role: "robot", content: "hi" }] }),
      /messages.*\brole\b/,
    ],
    [
      "content of the wrong type",
      body({ messages: [{ role: "user", content: 42 }] }),
      /messages.*\bcontent\b/,
    ],
    // Inside a union (string or blocks, one of many block types) the inner field is named.
    [
      "a text block without text",
      body({ messages: [{ role: "user", content: [{ type: "text" }] }] }),
      /messages\[0\]\.content\[0\]\.text\b/,
    ],
    [
      "a tool_result without tool_use_id",
      body({ messages: [{ role: "user", content: [{ type: "tool_result", content: "x" }] }] }),
      /messages\[0\]\.content\[0\]\.tool_use_id\b/,
    ],
    [
      "an image without media_type",
      body({
        messages: [{
          role: "user",
          content: [{ type: "text", text: "a" }, {
            type: "image",
            source: { type: "base64", data: "AAAA" },
          }],
        }],
      }),
      /messages\[0\]\.content\[1\]\.source\.media_type\b/,
    ],
    ["a system block without text", body({ system: [{ type: "text" }] }), /system\[0\]\.text\b/],
    [
      "only an empty text block",
      body({ messages: [{ role: "user", content: [{ type: "text", text: "" }] }] }),
      /messages.*non-empty/,
    ],
    [
      "only an empty text block, beside a system prompt",
      body({
        system: "Be brief.",
        messages: [{ role: "user", content: [{ type: "text", text: "" }] }],
      }),
      /messages.*non-empty/,
    ],
    ["temperature as a string", body({ temperature: "hot" }), /\btemperature\b/],
    ["stream as a string", body({ stream: "yes" }), /\bstream\b/],
    ["tools as an object", body({ tools: { name: "x" } }), /\btools\b/],
    ["a JSON array body", [], /body|object/],
    ["a JSON null body", null, /body|object/],
  ];
  for (const [name, value, field] of cases) {
    it(`${name} → 400 invalid_request_error naming the field`, async () => {
      const before = h.upstream.requests.length;
      const message = await assertAnthropicError(
        await postJson(messagesUrl(), JSON.stringify(value)),
        400,
        "invalid_request_error",
      );
      assert.match(message, field);
      assert.equal(h.upstream.requests.length, before, "the upstream is not called");
    });
  }

  it("count_tokens validates too", async () => {
    const message = await assertAnthropicError(
      await postJson(`${h.proxy.url}/v1/messages/count_tokens`, { model: "claude-sonnet-4-6" }),
      400,
      "invalid_request_error",
    );
    assert.match(message, /\bmessages\b/);
  });

  it("the SDK sees a BadRequestError", async () => {
    await assert.rejects(
      h.client.messages.create(
        { model: "claude-sonnet-4-6", max_tokens: 10, messages: "x" } as never,
      ),
      Anthropic.BadRequestError,
    );
  });

  it("the server keeps serving afterwards", async () => {
    const msg = await h.client.messages.create(body() as never);
    assert.deepEqual(msg.content, [{ type: "text", text: "fine" }]);
  });
});

describe("upstream errors", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const send = (extra: Record<string, unknown> = {}) =>
    postJson(`${h.proxy.url}/v1/messages`, body(extra));

  // [upstream status, expected status, expected type]
  const table: [number, number, string][] = [
    [400, 400, "invalid_request_error"],
    [422, 400, "invalid_request_error"],
    [401, 401, "authentication_error"],
    [403, 403, "permission_error"],
    [404, 404, "not_found_error"],
    [413, 413, "request_too_large"],
    [429, 429, "rate_limit_error"],
    [500, 500, "api_error"],
    [502, 502, "api_error"],
    [504, 504, "timeout_error"],
    [503, 529, "overloaded_error"],
    [529, 529, "overloaded_error"],
  ];
  for (const [upstreamStatus, status, type] of table) {
    it(`upstream ${upstreamStatus} → ${type}, with the upstream's message`, async () => {
      const upstreamMessage = `upstream says no (${upstreamStatus}) #${upstreamStatus * 7}`;
      h.reply({ status: upstreamStatus, json: openaiError(upstreamMessage, "some_type") });
      for (const stream of [false, true]) {
        const res = await send({ stream });
        const returnedStatus = res.status;
        const message = await assertAnthropicError(res, returnedStatus, type);
        if (upstreamStatus === 502 || upstreamStatus === 500) {
          assert.ok(returnedStatus >= 500 && returnedStatus < 600, `status ${returnedStatus}`);
        } else {
          assert.equal(returnedStatus, status);
        }
        assert.ok(message.includes(upstreamMessage), `message passed on: ${message}`);
      }
    });
  }

  it("429 passes retry-after through", async () => {
    h.reply({
      status: 429,
      headers: { "retry-after": "17" },
      json: openaiError("Rate limit reached", "requests"),
    });
    const res = await send();
    assert.equal(res.headers.get("retry-after"), "17");
    await assertAnthropicError(res, 429, "rate_limit_error");
  });

  it("the SDK sees the matching error classes", async () => {
    const cases: [number, new (...args: never[]) => Error][] = [
      [400, Anthropic.BadRequestError],
      [401, Anthropic.AuthenticationError],
      [403, Anthropic.PermissionDeniedError],
      [404, Anthropic.NotFoundError],
      [429, Anthropic.RateLimitError],
      [500, Anthropic.InternalServerError],
    ];
    for (const [status, cls] of cases) {
      h.reply({ status, json: openaiError(`boom ${status}`) });
      await assert.rejects(h.client.messages.create(body() as never), cls);
      await assert.rejects(h.client.messages.stream(body() as never).finalMessage(), cls);
    }
  });

  it("a non-JSON (HTML) error page still becomes an Anthropic error", async () => {
    h.reply({ status: 502, text: "<html><body><h1>502 Bad Gateway</h1></body></html>" });
    const message = await assertAnthropicError(await send(), 502, "api_error");
    assert.match(message, /502 Bad Gateway/);
    assert.ok(!message.includes("<h1>"));
  });

  for (
    const [name, status, error] of [
      [
        "429 insufficient_quota",
        429,
        openaiError("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
      ],
      ["402 payment required", 402, { error: { message: "Insufficient credits", code: 402 } }],
    ] as const
  ) {
    it(`${name} → billing_error with x-should-retry: false`, async () => {
      h.reply({ status, json: error });
      const res = await send();
      assert.equal(res.headers.get("x-should-retry"), "false");
      const message = await assertAnthropicError(res, 402, "billing_error");
      assert.match(message, /quota|credits/i);
    });
  }

  describe("context overflow → 'prompt is too long: N tokens > M maximum'", () => {
    // [provider, status, body, N, M] — N/M undefined where the wording gives no number.
    const overflows: [string, number, unknown, number | undefined, number | undefined][] = [
      [
        "OpenAI",
        400,
        openaiError(
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.",
          "invalid_request_error",
          "context_length_exceeded",
        ),
        130000,
        128000,
      ],
      [
        "vLLM (older)",
        400,
        {
          object: "error",
          message:
            "This model's maximum context length is 32768 tokens. However, you requested 33000 tokens (32000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
          type: "BadRequestError",
          param: null,
          code: 400,
        },
        33000,
        32768,
      ],
      [
        "vLLM",
        400,
        openaiError(
          "This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please reduce the length of the input messages.",
          "BadRequestError",
        ),
        40000,
        32768,
      ],
      [
        "llama.cpp",
        400,
        {
          error: {
            code: 400,
            message: "the request exceeds the available context size, try increasing it",
            type: "exceed_context_size_error",
            n_prompt_tokens: 9000,
            n_ctx: 8192,
          },
        },
        9000,
        8192,
      ],
      [
        "llama.cpp (older)",
        400,
        {
          error: {
            code: 400,
            message:
              "the request exceeds the available context size. try increasing the context size or enable context shift",
            type: "invalid_request_error",
          },
        },
        undefined,
        undefined,
      ],
      [
        "Gemini",
        400,
        [{
          error: {
            code: 400,
            message:
              "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            status: "INVALID_ARGUMENT",
          },
        }],
        1200000,
        1048576,
      ],
      [
        "Gemini (object body)",
        400,
        {
          error: {
            code: 400,
            message:
              "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            status: "INVALID_ARGUMENT",
          },
        },
        1200000,
        1048576,
      ],
      [
        "Mistral",
        400,
        {
          object: "error",
          message:
            "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
          type: "invalid_request_invalid_args",
          param: null,
          code: null,
        },
        40000,
        32768,
      ],
      [
        "OpenRouter",
        400,
        {
          error: {
            message:
              'This endpoint\'s maximum context length is 200000 tokens. However, you requested about 250000 tokens (240000 of text input, 10000 in the output). Please reduce the length of either one, or use the "middle-out" transform to compress your prompt automatically.',
            code: 400,
          },
        },
        250000,
        200000,
      ],
      [
        "LM Studio",
        400,
        {
          error:
            "Trying to keep the first 12000 tokens when context the overflows. However, the model is loaded with context length of only 4096 tokens, which is not enough. Try to load the model with a larger context length, or provide a shorter input",
        },
        12000,
        4096,
      ],
      [
        "vLLM (engine check)",
        400,
        {
          object: "error",
          message:
            "The decoder prompt (length 40001) is longer than the maximum model length of 32768. Make sure that `max_model_len` is no smaller than the number of text tokens.",
          type: "BadRequestError",
          param: null,
          code: 400,
        },
        40001,
        32768,
      ],
      [
        "vLLM (V1 engine)",
        400,
        openaiError(
          "Prompt length of 40960 is longer than the maximum model length of 32768.",
          "BadRequestError",
        ),
        40960,
        32768,
      ],
      [
        "xAI",
        400,
        {
          code: "Client specified an invalid argument",
          error:
            "This model's maximum prompt length is 131072 but the request contains 136973 tokens.",
        },
        136973,
        131072,
      ],
      [
        "an Anthropic-format upstream",
        400,
        openaiError("prompt is too long: 210000 tokens > 200000 maximum", "invalid_request_error"),
        210000,
        200000,
      ],
    ];
    for (const [provider, status, error, n, m] of overflows) {
      it(`${provider}`, async () => {
        h.reply({ status, json: error });
        for (const stream of [false, true]) {
          const message = await assertAnthropicError(
            await send({ stream }),
            400,
            "invalid_request_error",
          );
          const match = message.match(/^prompt is too long: (\d+) tokens > (\d+) maximum/);
          assert.ok(match, `Claude Code's form: ${message}`);
          const [used, max] = [Number(match[1]), Number(match[2])];
          assert.ok(used > max, `N > M: ${message}`);
          if (n !== undefined) assert.equal(used, n, message);
          if (m !== undefined) assert.equal(max, m, message);
        }
      });
    }

    // OpenRouter and others report the overflow inside a 200 answer (a stream's first chunk or
    // a JSON body): Claude Code must get the same form there to compact.
    it("an overflow inside a 200 answer or stream has the same form", async () => {
      const inBand = {
        error: {
          message:
            "This endpoint's maximum context length is 200000 tokens. However, you requested about 250000 tokens (240000 of text input, 10000 in the output).",
          code: 400,
        },
      };
      h.reply({ json: inBand });
      const message = await assertAnthropicError(await send(), 400, "invalid_request_error");
      assert.match(message, /^prompt is too long: 250000 tokens > 200000 maximum/);
      h.reply({ sse: [inBand] });
      const res = await send({ stream: true });
      assert.equal(res.status, 200);
      const frames = parseSse(await res.text());
      const last = frames[frames.length - 1]!;
      assert.equal(last.event, "error");
      assert.equal(last.data.error.type, "invalid_request_error");
      assert.match(last.data.error.message, /^prompt is too long: 250000 tokens > 200000 maximum/);
    });

    it("an ordinary 400 is not mistaken for an overflow", async () => {
      h.reply({
        status: 400,
        json: openaiError("Invalid value for 'temperature': must be ≤ 2.", "invalid_request_error"),
      });
      const message = await assertAnthropicError(await send(), 400, "invalid_request_error");
      assert.ok(!message.startsWith("prompt is too long"), message);
    });
  });
});

describe("unreachable upstream", () => {
  it("a closed port → an Anthropic error JSON, no stack trace", async () => {
    const port = await closedPort();
    const proxy = startProxy({ OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` });
    try {
      for (const stream of [false, true]) {
        const res = await postJson(`${proxy.url}/v1/messages`, body({ stream }));
        assert.ok(res.status >= 500 && res.status < 600, `status ${res.status}`);
        const text = await res.text();
        const parsed = JSON.parse(text);
        assert.equal(parsed.type, "error");
        assert.match(parsed.error.type, /^(api_error|overloaded_error)$/);
        assert.ok(!/\n\s+at /.test(parsed.error.message), `no stack trace: ${text}`);
        assert.ok(!/\.ts:\d+/.test(text), `no source locations: ${text}`);
      }
    } finally {
      await proxy.close();
    }
  });
});

/** A port nothing listens on: bound, noted, and released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
