/**
 * Pure: Anthropic content blocks → Responses API input content (`input_text`, `input_image`,
 * `input_file`). https://platform.openai.com/docs/api-reference/responses/create#responses-create-input
 * What is read from which block is shared with the other OpenAI-style protocols
 * (openai/content_parts.ts); this is the Responses spelling.
 */
import type { ContentBlock, ToolResultBlock } from "../../anthropic/schema.ts";
import * as shared from "../openai/content_parts.ts";
import type { InputContent } from "./schema.ts";

function inputContent(part: shared.ContentPart): InputContent {
  switch (part.type) {
    case "text":
      return { type: "input_text", text: part.text };
    case "image":
      return { type: "input_image", image_url: part.url, detail: "auto" };
    case "file":
      return { type: "input_file", filename: part.filename, file_data: part.fileData };
  }
}

/** One block of a user turn → input content. */
export function userContent(block: ContentBlock, dropped: Set<string>): InputContent[] {
  return shared.userParts(block, dropped).map(inputContent);
}

/**
 * A tool result → the `function_call_output` text, and the images and files it held, which
 * travel in a user message right after the outputs (an output is text).
 */
export function toolResultContent(
  result: ToolResultBlock,
  dropped: Set<string>,
): { text: string; attachments: InputContent[] } {
  const { text, attachments } = shared.toolResultParts(result, dropped);
  return { text, attachments: attachments.map(inputContent) };
}
