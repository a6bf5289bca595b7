/**
 * `/v1/messages/count_tokens` against the tokenizer run on the exact text the proxy sends
 * upstream: each request goes through the real handler to a capturing fetch, and the reference
 * counts the upstream body's message contents, tool calls, tool list and response format (plus
 * OpenAI's 3 tokens per message and 3 for the reply, and the documented per-image estimate).
 * Claude Code fixtures and other realistic inputs: images, tool results, long code, non-English.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { countTokens as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { configFromEnv } from "../lib/ops/config.ts";
import { silentLogger } from "../lib/ops/log.ts";
import { createHandler } from "../lib/server/handler.ts";
import { estimateImageTokens } from "../lib/tokens/count.ts";
import type { ImageBlock } from "../lib/anthropic/schema.ts";
import type { Fetch } from "../lib/upstreams/transport.ts";

const PLAIN = { disallowedSpecial: new Set<string>() };
const root = new URL("../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), "utf8");

type UpstreamMessage = {
  content?: string | { type: string; text?: string }[] | null;
  tool_calls?: unknown[];
  reasoning_content?: string;
};
type UpstreamBody = { messages: UpstreamMessage[]; tools?: unknown[]; response_format?: unknown };

/** The tokenizer's count of what the upstream body carries, built without lib/tokens.ts. */
function referenceCount(sent: UpstreamBody, count: (text: string) => number): number {
  let total = 3;
  for (const m of sent.messages) {
    total += 3;
    if (typeof m.content === "string") total += count(m.content);
    else if (Array.isArray(m.content)) {
      for (const part of m.content) if (part.type === "text") total += count(part.text ?? "");
    }
    if (m.tool_calls) total += count(JSON.stringify(m.tool_calls));
    if (m.reasoning_content) total += count(m.reasoning_content);
  }
  if (sent.tools) total += count(JSON.stringify(sent.tools));
  if (sent.response_format) total += count(JSON.stringify(sent.response_format));
  return total;
}

function pngBase64(width: number, height: number): string {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes.set([8, 6, 0, 0, 0], 24);
  return btoa(String.fromCharCode(...bytes));
}

const code = ["lib/server/handler.ts", "lib/tokens/count.ts", "lib/upstreams/chat/stream.ts"].map(
  read,
).join("\n");
const numbered = code.split("\n").slice(0, 700).map((l, i) => `${String(i + 1).padStart(6)}\t${l}`)
  .join("\n");
// Written for this test: the same few sentences in seven scripts.
const languages = [
  "Der Proxy übersetzt Anfragen im Anthropic-Format in das Format der OpenAI-Schnittstelle und wandelt die Antworten zurück, ohne dass man ihn bemerkt.",
  "Прокси принимает запросы в формате Anthropic и пересылает их любому совместимому с OpenAI провайдеру; журнал сразу показывает причину ошибки.",
  "代理服务器把请求转换成上游接口能理解的格式，再把回答按原样返回给客户端。日志里的每一行都要说明发生了什么。",
  "このプロキシは、受け取ったリクエストを上流のAPIが理解できる形式に変換し、応答を元の形式に戻して返します。",
  "이 프록시는 요청을 오픈에이아이 호환 형식으로 바꾸고 응답을 다시 원래 형식으로 돌려줍니다.",
  "يقوم الخادم الوسيط بتحويل الطلبات إلى صيغة أخرى ثم يعيد الإجابات بالصيغة الأصلية، ويجب أن تكون السجلات واضحة.",
  "यह प्रॉक्सी सर्वर अनुरोधों को एक प्रारूप से दूसरे प्रारूप में बदलता है और उत्तर वापस भेजता है।",
];
const readTool = {
  name: "Read",
  description: "Reads a file and returns it with line numbers.",
  input_schema: {
    type: "object",
    properties: { file_path: { type: "string", description: "absolute path" } },
    required: ["file_path"],
  },
};

const cases: { name: string; body: Record<string, unknown> }[] = [
  ...readdirSync(new URL("tests/fixtures/claude-code/", root))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({
      name: f,
      body:
        (JSON.parse(read(`tests/fixtures/claude-code/${f}`)) as { body: Record<string, unknown> })
          .body,
    })),
  {
    name: "two screenshots and a question",
    body: {
      messages: [{
        role: "user",
        content: [
          {
            type: "image",
            source: { type: "base64", media_type: "image/png", data: pngBase64(1280, 800) },
          },
          {
            type: "image",
            source: { type: "base64", media_type: "image/png", data: pngBase64(3000, 2000) },
          },
          { type: "text", text: "Compare the layouts of these two screenshots in detail." },
        ],
      }],
    },
  },
  {
    name: "tool results with numbered source code",
    body: {
      tools: [readTool],
      messages: [
        { role: "user", content: "Read lib/server.ts and explain the request path." },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Reading it." },
            {
              type: "tool_use",
              id: "toolu_01",
              name: "Read",
              input: { file_path: "/r/lib/server.ts" },
            },
          ],
        },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "toolu_01", content: numbered }],
        },
      ],
    },
  },
  {
    name: "long code in a message",
    body: {
      system: "You review TypeScript.",
      messages: [{ role: "user", content: "```ts\n" + code + "\n```" }],
    },
  },
  {
    name: "non-English conversation",
    body: {
      messages: [
        { role: "user", content: languages.map((t) => t.repeat(5)).join("\n\n") },
        { role: "assistant", content: languages[0]! + languages[3]! },
        { role: "user", content: languages[1]!.repeat(3) },
      ],
    },
  },
];

function imageEstimate(body: Record<string, unknown>): number {
  let tokens = 0;
  for (const m of body.messages as { content: unknown }[]) {
    if (!Array.isArray(m.content)) continue;
    for (const b of m.content as { type: string }[]) {
      if (b.type === "image") tokens += estimateImageTokens(b as ImageBlock);
    }
  }
  return tokens;
}

for (const [model, count] of [["gpt-4o", o200k], ["gpt-4-turbo", cl100k]] as const) {
  describe(`count_tokens vs the tokenizer on the upstream body (${model})`, () => {
    let sent: UpstreamBody | undefined;
    const capture: Fetch = (_url, init) => {
      sent = JSON.parse(String(init.body)) as UpstreamBody;
      return Promise.resolve(
        new Response(
          'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
          { headers: { "content-type": "text/event-stream" } },
        ),
      );
    };
    const config = configFromEnv({
      OPENAI_API_KEY: "sk-x",
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      BIG_MODEL: model,
      SMALL_MODEL: model,
    });
    const handler = createHandler(config, { log: silentLogger, fetch: capture });
    const post = (path: string, body: unknown) =>
      handler(
        new Request(`http://proxy${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
      );

    for (const c of cases) {
      it(`${c.name}: within 10%`, async () => {
        const body = { model: "claude-sonnet-4-5", max_tokens: 1024, ...c.body, stream: true };
        const counted = await post("/v1/messages/count_tokens", body);
        assert.equal(counted.status, 200);
        const { input_tokens } = (await counted.json()) as { input_tokens: number };
        sent = undefined;
        await (await post("/v1/messages", body)).text();
        assert.ok(sent, "the request reached the upstream");
        const reference = referenceCount(sent, (t) => count(t, PLAIN)) + imageEstimate(body);
        const ratio = input_tokens / reference;
        assert.ok(
          Math.abs(ratio - 1) <= 0.1,
          `${input_tokens} vs ${reference} (${ratio.toFixed(3)})`,
        );
      });
    }
  });
}
