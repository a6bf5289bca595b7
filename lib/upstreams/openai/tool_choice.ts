/**
 * Pure: Anthropic's `tool_choice` → the choice every OpenAI-style API offers: "auto",
 * "required", "none", or one function by its upstream name. Each protocol spells the forced
 * function its own way.
 */
import type { MessagesRequest } from "../../anthropic/schema.ts";

export type ToolChoice = "auto" | "required" | "none" | { name: string };

export function toolChoice(
  choice: NonNullable<MessagesRequest["tool_choice"]>,
  toolName: (name: string) => string,
  offered: (name: string) => boolean,
): ToolChoice {
  switch (choice.type) {
    case "auto":
      return "auto";
    case "any":
      return "required";
    case "none":
      return "none";
    case "tool": {
      const name = choice.name === undefined ? undefined : toolName(choice.name);
      // A forced server tool (web_search…) was dropped: forcing a missing function is a 400
      // upstream, so the model chooses instead.
      return name === undefined ? "required" : offered(name) ? { name } : "auto";
    }
  }
}
