/**
 * The text tool-call syntaxes the proxy reads, by their opening tag. Three families share
 * `<tool_call>`; what follows the tag tells them apart (JSON: Hermes; `<function=`: Qwen3-Coder;
 * a bare name: GLM).
 */
import type { Syntax, TextCall, ToolLookup } from "./syntax.ts";
import { parseGlm, parseMiniMax, parseQwenCoder } from "./xml_parameters.ts";
import { parseDeepSeek, parseHermes, parseKimi } from "./json_arguments.ts";

function parseToolCallTag(body: string, tools: ToolLookup): TextCall[] | undefined {
  const head = body.trimStart();
  if (head.startsWith("{")) return parseHermes(body, tools);
  if (head.startsWith("<function=")) return parseQwenCoder(body, tools);
  return parseGlm(body, tools);
}

/** Hermes JSON, a Qwen3-Coder function, or a GLM name followed by its arguments. */
function plausibleToolCallTag(body: string): boolean {
  const head = body.trimStart();
  if (head === "" || head.startsWith("{")) return true;
  if (head.startsWith("<")) return head.startsWith("<function=") || "<function=".startsWith(head);
  const name = /^[^\s<]*/.exec(head)![0];
  return /^\s*(<|$)/.test(head.slice(name.length));
}

export const SYNTAXES: readonly Syntax[] = [
  {
    family: "Hermes / Qwen3-Coder / GLM",
    start: "<tool_call>",
    end: "</tool_call>",
    parse: parseToolCallTag,
    plausible: plausibleToolCallTag,
  },
  // Qwen3-Coder sometimes leaves out the <tool_call> wrapper (vLLM's parser accepts that too);
  // Llama 3.x never writes one (its JSON body: see xml_parameters.ts).
  {
    family: "Qwen3-Coder / Llama 3",
    start: "<function=",
    end: "</function>",
    parse: (body, tools) => parseQwenCoder(`<function=${body}</function>`, tools),
    plausible: (body) => /^[^>\n]*(>|$)/.test(body),
  },
  {
    family: "Kimi K2",
    start: "<|tool_calls_section_begin|>",
    end: "<|tool_calls_section_end|>",
    parse: parseKimi,
  },
  // Some Kimi K2 releases write the singular form (vLLM accepts both).
  {
    family: "Kimi K2",
    start: "<|tool_call_section_begin|>",
    end: "<|tool_call_section_end|>",
    parse: parseKimi,
  },
  {
    family: "MiniMax-M2",
    start: "<minimax:tool_call>",
    end: "</minimax:tool_call>",
    parse: parseMiniMax,
  },
  {
    family: "DeepSeek",
    start: "<｜tool▁calls▁begin｜>",
    end: "<｜tool▁calls▁end｜>",
    parse: parseDeepSeek,
  },
];
