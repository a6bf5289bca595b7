/**
 * `doctor`: checks the configured upstream through the proxy's own request path (in process,
 * no listening socket) for each mapped model, and prints a capability table with a hint for
 * each failure. Nothing is sent anywhere but the configured upstream.
 */
import { displayUrl } from "../common/secret_values.ts";
import type { Config } from "../ops/config.ts";
import { silentLogger } from "../ops/log.ts";
import { createHandler } from "../server/handler.ts";
import type { Fetch } from "../upstreams/transport.ts";
import type { Router, Target } from "../routing/router.ts";
import type { Provider } from "../upstreams/provider.ts";

type Check = {
  name: string;
  body: Record<string, unknown>;
  /** The problem with a 200 answer, or undefined when it passes. */
  verify: (events: string, json: unknown) => string | undefined;
  /** Something worth knowing about a passing answer. */
  note?: (json: unknown) => string | undefined;
};

// A 64×64 solid red PNG. A model without vision may still answer (some servers drop images
// silently), so the check asks for the color: only a model that sees the image names it.
const RED_SQUARE =
  "iVBORw0KGgoAAAANSUhEUgAAAEAAAABACAIAAAAlC+aJAAAAT0lEQVR42u3PQQkAAAgEsAtx/ZMZxgi+hcEKLNO+FgEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQGBywKqxUDxqh7TUQAAAABJRU5ErkJggg==";

const WEATHER_TOOL = {
  name: "get_weather",
  description: "Get the weather for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

type Block = { type?: unknown; text?: unknown };

function blocksOf(json: unknown): Block[] {
  const content = (json as { content?: unknown } | undefined)?.content;
  if (!Array.isArray(content)) return [];
  return content.filter((b: unknown): b is Block => typeof b === "object" && b !== null);
}

function textOf(json: unknown): string {
  return blocksOf(json)
    .map((b) => (b.type === "text" && typeof b.text === "string" ? b.text : ""))
    .join("");
}

/**
 * ~24k tokens of filler with a marker at the very start: a server that truncates silently
 * loses the marker. Claude Code's first request alone is ~20k tokens (system prompt and tools),
 * so a context that fits less is too small for it, even if shorter prompts work.
 */
function longPrompt(): string {
  const filler = "The quick brown fox jumps over the lazy dog. ".repeat(2400);
  return `The secret word is PAPAYA.\n${filler}\nWhat is the secret word? Answer with the word only.`;
}

const CHECKS: Check[] = [
  {
    name: "plain",
    body: { max_tokens: 50, messages: [{ role: "user", content: "Reply with the word: pong" }] },
    verify: (_e, json) => (textOf(json).length > 0 ? undefined : "empty answer"),
  },
  {
    name: "stream",
    body: {
      max_tokens: 50,
      stream: true,
      messages: [{ role: "user", content: "Reply with the word: pong" }],
    },
    verify: (events) =>
      events.includes("message_stop") && events.includes("text_delta")
        ? undefined
        : "stream incomplete",
  },
  {
    name: "tools",
    body: {
      max_tokens: 200,
      stream: true,
      tools: [WEATHER_TOOL],
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: "What is the weather in Paris? Use the tool." }],
    },
    verify: (events) =>
      events.includes('"tool_use"')
        ? undefined
        : "no tool call: the model may not support tool calling",
  },
  {
    name: "image",
    body: {
      max_tokens: 50,
      messages: [{
        role: "user",
        content: [
          { type: "image", source: { type: "base64", media_type: "image/png", data: RED_SQUARE } },
          {
            type: "text",
            text: "What color is this image? Answer with one word: red, green or blue.",
          },
        ],
      }],
    },
    verify: (_e, json) =>
      /red/i.test(textOf(json))
        ? undefined
        : "the answer does not name the image's color: the model may not see images",
  },
  {
    name: "thinking",
    body: {
      max_tokens: 2000,
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: [{ role: "user", content: "What is 17 * 23? Answer with the number." }],
    },
    verify: (_e, json) => (textOf(json).includes("391") ? undefined : "wrong or empty answer"),
    note: (json) =>
      blocksOf(json).some((b) => b.type === "thinking")
        ? undefined
        : "no thinking returned: the model does not reason or show it, or is not known as a " +
          "reasoning model (REASONING_MODELS)",
  },
  {
    name: "long prompt",
    body: { max_tokens: 20, messages: [{ role: "user", content: longPrompt() }] },
    verify: (_e, json) =>
      /papaya/i.test(textOf(json))
        ? undefined
        : "the model lost the start of a ~24k-token prompt: the server truncates, and Claude Code needs ~20k+ (Ollama: raise num_ctx / OLLAMA_CONTEXT_LENGTH)",
  },
];

function hint(status: number, message: string): string {
  if (status === 401 || status === 403) return "bad key: check OPENAI_API_KEY";
  if (status === 404) {
    return "not found: check OPENAI_BASE_URL (it usually ends in /v1) and the model name";
  }
  if (status === 402) return "no credit left at the provider";
  if (status === 429) return "rate limited: try again later";
  // A web page or another API at the configured URL (it usually ends in /v1).
  if (status === 405 || /not JSON/.test(message)) {
    return "this is not an OpenAI-compatible API: check OPENAI_BASE_URL (it usually ends in /v1)";
  }
  if (/tool/i.test(message)) return "the model may not support tool calling";
  if (/image|vision|multimodal/i.test(message)) return "the model may not support images";
  return message.slice(0, 160);
}

/**
 * With a routing configuration file: every model it names (each provider's `models`, every
 * chain entry of the tiers and routes), grouped by provider, each asked for by its explicit
 * `provider/model` name so that no fallback hides a failure.
 */
function fileTargets(router: Router): Map<Provider, string[]> {
  const file = router.file!;
  const byProvider = new Map<Provider, string[]>(router.providers.map((p) => [p, []]));
  const add = (t: Target) => {
    const list = byProvider.get(t.provider)!;
    if (!list.includes(t.model)) list.push(t.model);
  };
  for (const p of router.providers) for (const m of p.models) add({ provider: p, model: m });
  for (const chain of Object.values(file.tiers)) chain?.forEach(add);
  for (const r of file.routes) r.chain.forEach(add);
  return byProvider;
}

export async function runDoctor(
  config: Config,
  fetch: Fetch,
  print: (line: string) => void,
  router?: Router,
): Promise<number> {
  const handler = createHandler(config, {
    log: silentLogger,
    fetch,
    ...(router ? { router: { current: () => router } } : {}),
  });
  // [shown model name, the name the request asks for]
  const groups: { title: string; models: [string, string][] }[] = [];
  if (router?.file) {
    for (const [provider, models] of fileTargets(router)) {
      groups.push({
        title: `${provider.name}: ${displayUrl(provider.baseUrl)} (${provider.api})` +
          (models.length === 0 ? " — no model named, nothing to check" : ""),
        models: models.map((m) => [m, `${provider.name}/${m}`]),
      });
    }
  } else {
    groups.push({
      title: displayUrl(config.openaiBaseUrl),
      models: [
        [config.bigModel, "claude-opus"],
        [config.middleModel, "claude-sonnet"],
        [config.smallModel, "claude-haiku"],
      ],
    });
  }
  let failures = 0;
  for (const group of groups) {
    failures += await checkGroup(handler, config, group.title, group.models, print);
  }
  return failures === 0 ? 0 : 1;
}

async function checkGroup(
  handler: (req: Request) => Promise<Response>,
  config: Config,
  title: string,
  models: [string, string][],
  print: (line: string) => void,
): Promise<number> {
  const seen = new Set<string>();
  let failures = 0;
  /** Whether the upstream has answered anything yet. */
  let reached = false;
  print(`Checking ${title}`);
  if (models.length === 0) return 0;
  print(`${"model".padEnd(28)} ${"check".padEnd(12)} result`);
  for (const [model, asked] of models) {
    if (seen.has(model)) continue;
    seen.add(model);
    for (const check of CHECKS) {
      const res = await handler(
        new Request("http://doctor.local/v1/messages", {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(config.anthropicApiKey ? { "x-api-key": config.anthropicApiKey } : {}),
          },
          body: JSON.stringify({ model: asked, ...check.body }),
        }),
      );
      const text = await res.text();
      let result: string;
      if (!res.ok) {
        let message = text;
        try {
          message = (JSON.parse(text) as { error: { message: string } }).error.message;
        } catch {
          // keep the raw text
        }
        // Nothing answers at the base URL: every further check would fail the same way,
        // each after its retries, so one clear line says it all.
        const unreachable = res.status === 502 && /^cannot reach upstream/.test(message);
        if (unreachable && !reached) {
          print(`${message}`);
          print(
            "The upstream cannot be reached at all: check OPENAI_BASE_URL and that the server " +
              "is running. No further checks were made.",
          );
          return 1;
        }
        if (!unreachable) reached = true;
        // No upstream status to show when the connection failed: the 502 is the proxy's own.
        result = unreachable
          ? `FAIL: connection lost: ${message}`
          : `FAIL ${res.status}: ${hint(res.status, message)}`;
        failures++;
      } else {
        reached = true;
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const problem = check.verify(text, json);
        const note = problem ? undefined : check.note?.(json);
        result = problem ? `FAIL: ${problem}` : note ? `ok (${note})` : "ok";
        if (problem) failures++;
      }
      print(`${model.padEnd(28)} ${check.name.padEnd(12)} ${result}`);
    }
  }
  return failures;
}
