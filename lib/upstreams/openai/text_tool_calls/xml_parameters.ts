/**
 * The three syntaxes that write each argument as raw text between tags.
 *
 * Qwen3-Coder (chat template of Qwen/Qwen3-Coder-*, parsed by vLLM's `qwen3_coder` tool parser):
 *   <tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n</function>\n</tool_call>
 * The template puts a newline on each side of a value; one is removed on each side.
 * Llama 3.1 and later write the same element with a JSON object inside (Meta's "custom tool
 * calling" format, https://www.llama.com/docs/model-cards-and-prompt-formats/llama3_1/):
 *   <function=NAME>{"KEY": VALUE}</function>
 *
 * GLM-4.5 and later (chat template of zai-org/GLM-4.5, vLLM's `glm45` tool parser):
 *   <tool_call>NAME\n<arg_key>KEY</arg_key>\n<arg_value>VALUE</arg_value>\n</tool_call>
 *
 * MiniMax-M2 (MiniMax-AI/MiniMax-M2 docs/tool_calling_guide.md):
 *   <minimax:tool_call>\n<invoke name="NAME">\n<parameter name="KEY">VALUE</parameter>\n</invoke>\n</minimax:tool_call>
 */
import { matches, onlyBlankOutside, type TextCall, type ToolLookup, typedValue } from "./syntax.ts";
import { parseToolArguments } from "../tool_args.ts";

const QWEN_FUNCTION = /<function=([^>\n]+)>([\s\S]*?)<\/function>/g;
// A missing </parameter> before the next parameter or the end is tolerated, as vLLM does.
const QWEN_PARAMETER = /<parameter=([^>\n]+)>([\s\S]*?)(?:<\/parameter>|(?=<parameter=)|$)/g;

function trimOneNewline(value: string): string {
  let v = value;
  if (v.startsWith("\n")) v = v.slice(1);
  if (v.endsWith("\n")) v = v.slice(0, -1);
  return v;
}

/** The body of a Qwen3-Coder `<tool_call>`: one or more `<function=…>` elements. */
export function parseQwenCoder(body: string, tools: ToolLookup): TextCall[] | undefined {
  if (!onlyBlankOutside(body, QWEN_FUNCTION)) return undefined;
  const calls: TextCall[] = [];
  for (const [rawName, inner] of matches(QWEN_FUNCTION, body)) {
    const name = rawName!.trim();
    const tool = tools(name);
    if (!tool) return undefined;
    const input = functionInput(inner!, tool.schema);
    if (!input) return undefined;
    calls.push({ name, input });
  }
  return calls.length > 0 ? calls : undefined;
}

/**
 * What a `<function=…>` element holds: a JSON object (Llama), or `<parameter=…>` elements and
 * nothing else (Qwen3-Coder; none at all for a tool without parameters). Anything else is not a
 * call: prose in there is not arguments to drop.
 */
function functionInput(inner: string, schema: unknown): Record<string, unknown> | undefined {
  if (inner.trimStart().startsWith("{")) {
    // Only JSON as written (a guess at cut-off JSON is no call the model made whole).
    const parsed = parseToolArguments(inner);
    return parsed.ok && !parsed.repaired ? parsed.input : undefined;
  }
  if (!onlyBlankOutside(inner, QWEN_PARAMETER)) return undefined;
  const input: Record<string, unknown> = {};
  for (const [key, value] of matches(QWEN_PARAMETER, inner)) {
    const k = key!.trim();
    input[k] = typedValue(trimOneNewline(value!), schema, k);
  }
  return input;
}

const GLM_PAIR = /<arg_key>([\s\S]*?)<\/arg_key>\s*<arg_value>([\s\S]*?)<\/arg_value>/g;

/** The body of a GLM `<tool_call>`: the name, then key/value pairs. */
export function parseGlm(body: string, tools: ToolLookup): TextCall[] | undefined {
  const at = body.indexOf("<arg_key>");
  const name = (at < 0 ? body : body.slice(0, at)).trim();
  if (name === "" || /\s/.test(name)) return undefined;
  const tool = tools(name);
  if (!tool) return undefined;
  const rest = at < 0 ? "" : body.slice(at);
  if (!onlyBlankOutside(rest, GLM_PAIR)) return undefined;
  const input: Record<string, unknown> = {};
  for (const [key, value] of matches(GLM_PAIR, rest)) {
    const k = key!.trim();
    input[k] = typedValue(value!.trim(), tool.schema, k);
  }
  return [{ name, input }];
}

const MINIMAX_INVOKE = /<invoke name="([^"]+)">([\s\S]*?)<\/invoke>/g;
const MINIMAX_PARAMETER = /<parameter name="([^"]+)">([\s\S]*?)<\/parameter>/g;

/** The body of a `<minimax:tool_call>`: one `<invoke>` per call. */
export function parseMiniMax(body: string, tools: ToolLookup): TextCall[] | undefined {
  if (!onlyBlankOutside(body, MINIMAX_INVOKE)) return undefined;
  const calls: TextCall[] = [];
  for (const [rawName, inner] of matches(MINIMAX_INVOKE, body)) {
    const name = rawName!.trim();
    const tool = tools(name);
    if (!tool) return undefined;
    if (!onlyBlankOutside(inner!, MINIMAX_PARAMETER)) return undefined;
    const input: Record<string, unknown> = {};
    for (const [key, value] of matches(MINIMAX_PARAMETER, inner!)) {
      const k = key!.trim();
      input[k] = typedValue(value!.trim(), tool.schema, k);
    }
    calls.push({ name, input });
  }
  return calls.length > 0 ? calls : undefined;
}
