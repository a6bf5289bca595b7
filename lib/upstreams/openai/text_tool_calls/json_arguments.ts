/**
 * The three syntaxes that write arguments as JSON.
 *
 * Hermes (NousResearch Hermes-2-Pro chat template; Qwen2.5 and Qwen3 use it, vLLM's `hermes`
 * tool parser): <tool_call>\n{"name": NAME, "arguments": {…}}\n</tool_call>
 *
 * Kimi K2 (MoonshotAI/Kimi-K2 docs/tool_call_guidance.md, vLLM's `kimi_k2` tool parser):
 *   <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{…}<|tool_call_end|><|tool_calls_section_end|>
 * The header is Kimi's call id; the name is what lies between `functions.` and `:N`.
 *
 * DeepSeek (tokenizer chat templates of DeepSeek-V3 / R1 and V3.1):
 *   V3, R1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{…}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>
 *   V3.1+:  <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{…}<｜tool▁call▁end｜><｜tool▁calls▁end｜>
 * (The bars are U+FF5C and the spaces U+2581, as in DeepSeek's tokenizer.)
 */
import { parseToolArguments } from "../tool_args.ts";
import { matches, onlyBlankOutside, type TextCall, type ToolLookup } from "./syntax.ts";

function call(name: string, args: unknown, tools: ToolLookup): TextCall | undefined {
  if (!tools(name)) return undefined;
  const parsed = parseToolArguments(args);
  return parsed.ok ? { name, input: parsed.input } : undefined;
}

/** The body of a Hermes `<tool_call>`: one JSON object. */
export function parseHermes(body: string, tools: ToolLookup): TextCall[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const { name, arguments: args, parameters } = value as Record<string, unknown>;
  if (typeof name !== "string") return undefined;
  const one = call(name, args ?? parameters, tools);
  return one ? [one] : undefined;
}

const KIMI_CALL =
  /<\|tool_call_begin\|>\s*([^<]+?)\s*<\|tool_call_argument_begin\|>([\s\S]*?)<\|tool_call_end\|>/g;

/** The body of a Kimi K2 tool-calls section. */
export function parseKimi(body: string, tools: ToolLookup): TextCall[] | undefined {
  if (!onlyBlankOutside(body, KIMI_CALL)) return undefined;
  const calls: TextCall[] = [];
  for (const [header, args] of matches(KIMI_CALL, body)) {
    const name = header!.replace(/^functions\./, "").replace(/:\d+$/, "");
    const one = call(name, args, tools);
    if (!one) return undefined;
    calls.push(one);
  }
  return calls.length > 0 ? calls : undefined;
}

const DEEPSEEK_CALL = /<｜tool▁call▁begin｜>([\s\S]*?)<｜tool▁sep｜>([\s\S]*?)<｜tool▁call▁end｜>/g;

/** The body of a DeepSeek tool-calls block. */
export function parseDeepSeek(body: string, tools: ToolLookup): TextCall[] | undefined {
  if (!onlyBlankOutside(body, DEEPSEEK_CALL)) return undefined;
  const calls: TextCall[] = [];
  for (const [head, rest] of matches(DEEPSEEK_CALL, body)) {
    let name = head!.trim();
    let args = rest!;
    if (name === "function") {
      // V3 and R1: the name on the first line, then the arguments in a json fence.
      const nl = args.indexOf("\n");
      name = (nl < 0 ? args : args.slice(0, nl)).trim();
      args = nl < 0 ? "" : args.slice(nl + 1);
    }
    const one = call(name, args, tools);
    if (!one) return undefined;
    calls.push(one);
  }
  return calls.length > 0 ? calls : undefined;
}
