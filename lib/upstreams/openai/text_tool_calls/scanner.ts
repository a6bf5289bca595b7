/**
 * Finds tool calls that a model wrote as text (no tool-call parser on its server) in a stream of
 * text pieces, and splits the text around them. Everything that cannot be part of an opening tag
 * is released at once; only a tail that could still become one is held back, and a call region
 * is held until its closing tag, when it becomes calls, or stays text if it is not one.
 */
import type { Syntax, TextCall, ToolLookup } from "./syntax.ts";
import { SYNTAXES } from "./syntaxes.ts";
import { restoreToolName, type ToolNameMap } from "../tool_names.ts";
import { checkAgainstSchema } from "../tool_args.ts";

const FENCE = "```";

/** Where a run of one or two backticks that ends the text starts (it may become a fence). */
function tickTail(buf: string): number {
  let i = buf.length;
  while (i > 0 && buf.charCodeAt(i - 1) === 96 /* ` */) i--;
  const run = buf.length - i;
  return run > 0 && run < FENCE.length ? i : buf.length;
}

/** How much of a region's start the plausibility check needs to see. */
const PLAUSIBLE_PREFIX = 256;

export type ScannedPiece = { kind: "text"; text: string } | { kind: "calls"; calls: TextCall[] };

export class TextToolCallScanner {
  #tools: ToolLookup;
  #syntaxes: readonly Syntax[];
  #maxStart: number;
  /** Outside a region: a tail that may start a tag. Inside: the region's body so far. */
  #pending = "";
  #inside: Syntax | undefined;
  /** Blank text right after calls: dropped if more calls or the end follow. */
  #gap = "";
  #afterCalls = false;
  /** Inside a Markdown code block (after an odd number of ``` in the text). */
  #inFence = false;
  /** The last character released, to see a tag right after a backtick across pieces. */
  #lastChar = "";

  constructor(tools: ToolLookup, syntaxes: readonly Syntax[] = SYNTAXES) {
    this.#tools = tools;
    this.#syntaxes = syntaxes;
    this.#maxStart = Math.max(...syntaxes.map((s) => s.start.length));
  }

  push(text: string): ScannedPiece[] {
    const out: ScannedPiece[] = [];
    // Inside a region, the part searched before cannot hold the closing tag: long calls (a
    // Write with a whole file) are searched once, not once per piece.
    let from = this.#inside ? Math.max(0, this.#pending.length - this.#inside.end.length + 1) : 0;
    let buf = this.#pending + text;
    this.#pending = "";
    while (buf !== "") {
      const inside = this.#inside;
      if (inside) {
        const end = buf.indexOf(inside.end, from);
        from = 0;
        if (end < 0) {
          if (inside.plausible && !inside.plausible(buf.slice(0, PLAUSIBLE_PREFIX))) {
            // Not a call after all: the tag is text, and what follows is scanned as text.
            this.#inside = undefined;
            this.#text(inside.start, out);
            continue;
          }
          this.#pending = buf;
          return out;
        }
        this.#region(inside, buf.slice(0, end), true, out);
        buf = buf.slice(end + inside.end.length);
        continue;
      }
      if (this.#inFence) {
        // Inside a Markdown code block a tag is an example, not a call: only its end matters.
        const close = buf.indexOf(FENCE);
        if (close < 0) {
          const hold = tickTail(buf);
          this.#text(buf.slice(0, hold), out);
          this.#pending = buf.slice(hold);
          return out;
        }
        this.#text(buf.slice(0, close + FENCE.length), out);
        this.#inFence = false;
        buf = buf.slice(close + FENCE.length);
        continue;
      }
      const lt = buf.indexOf("<");
      const fence = buf.indexOf(FENCE);
      let found: Syntax | undefined;
      let at = -1;
      if (lt >= 0) {
        for (const s of this.#syntaxes) {
          const i = buf.indexOf(s.start, lt);
          if (i >= 0 && (at < 0 || i < at)) {
            at = i;
            found = s;
          }
        }
      }
      if (fence >= 0 && (at < 0 || fence < at)) {
        this.#text(buf.slice(0, fence + FENCE.length), out);
        this.#inFence = true;
        buf = buf.slice(fence + FENCE.length);
        continue;
      }
      if (found) {
        const before = at > 0 ? buf[at - 1] : this.#lastChar;
        if (before === "`") {
          // Inline code (`<tool_call>`): a mention, not a call.
          this.#text(buf.slice(0, at + 1), out);
          buf = buf.slice(at + 1);
          continue;
        }
        this.#text(buf.slice(0, at), out);
        this.#inside = found;
        buf = buf.slice(at + found.start.length);
        continue;
      }
      const hold = Math.min(lt < 0 ? buf.length : this.#partialStart(buf, lt), tickTail(buf));
      this.#text(buf.slice(0, hold), out);
      this.#pending = buf.slice(hold);
      return out;
    }
    return out;
  }

  /** The text ended (or a native tool call follows): releases what is held. Reusable after. */
  finish(): ScannedPiece[] {
    const out: ScannedPiece[] = [];
    const inside = this.#inside;
    const pending = this.#pending;
    this.#pending = "";
    // A region the model never closed still counts when its calls are complete.
    if (inside) this.#region(inside, pending, false, out);
    else this.#text(pending, out);
    this.#gap = "";
    this.#afterCalls = false;
    this.#inFence = false;
    return out;
  }

  /** Where a tail that could still become an opening tag starts (buf.length if none). */
  #partialStart(buf: string, firstLt: number): number {
    for (let i = Math.max(firstLt, buf.length - this.#maxStart + 1); i < buf.length; i++) {
      if (buf.charCodeAt(i) !== 60 /* < */) continue;
      const tail = buf.slice(i);
      if (this.#syntaxes.some((s) => s.start.startsWith(tail))) return i;
    }
    return buf.length;
  }

  #region(syntax: Syntax, body: string, closed: boolean, out: ScannedPiece[]) {
    this.#inside = undefined;
    const calls = syntax.parse(body, this.#tools);
    if (calls?.every((call) => this.#fitsSchema(call))) {
      this.#gap = "";
      this.#afterCalls = true;
      out.push({ kind: "calls", calls });
      return;
    }
    this.#text(syntax.start + body + (closed ? syntax.end : ""), out);
  }

  /**
   * Markup read as a call is a guess, like repaired arguments (see `repairProblem`): one whose
   * input the tool would refuse (a required parameter missing, `{}` from an empty or unread body)
   * is more likely not the call meant, and as text the reader still sees what the model wrote.
   */
  #fitsSchema(call: TextCall): boolean {
    return checkAgainstSchema(call.input, this.#tools(call.name)?.schema) === undefined;
  }

  #text(text: string, out: ScannedPiece[]) {
    if (text === "") return;
    this.#lastChar = text[text.length - 1]!;
    if (this.#afterCalls) {
      const joined = this.#gap + text;
      if (joined.trim() === "") {
        this.#gap = joined;
        return;
      }
      this.#afterCalls = false;
      this.#gap = "";
      text = joined.trimStart();
    }
    const last = out[out.length - 1];
    if (last?.kind === "text") last.text += text;
    else out.push({ kind: "text", text });
  }
}

/**
 * A scanner for a request's tools, or undefined when it had none: text is only searched for
 * calls when a call could be meant, so plain answers cost nothing extra.
 */
export function textToolCallScanner(
  toolNames: ToolNameMap,
  toolSchemas: ReadonlyMap<string, unknown> | undefined,
): TextToolCallScanner | undefined {
  if (!toolSchemas || toolSchemas.size === 0) return undefined;
  return new TextToolCallScanner((name) => {
    const client = restoreToolName(toolNames, name);
    return toolSchemas.has(client) ? { schema: toolSchemas.get(client) } : undefined;
  });
}
