/**
 * Pure: Anthropic content blocks → Chat Completions content parts. What is read from which
 * block is shared with the other OpenAI-style protocols (openai/content_parts.ts); this is the
 * Chat Completions spelling.
 */
import type { ContentBlock, ToolResultBlock } from "../../anthropic/schema.ts";
import * as shared from "../openai/content_parts.ts";
import type { OpenAIContentPart } from "./schema.ts";

function chatPart(part: shared.ContentPart): OpenAIContentPart {
  switch (part.type) {
    case "text":
      return part;
    case "image":
      return { type: "image_url", image_url: { url: part.url } };
    case "file":
      return { type: "file", file: { filename: part.filename, file_data: part.fileData } };
  }
}

export function userParts(block: ContentBlock, dropped: Set<string>): OpenAIContentPart[] {
  return shared.userParts(block, dropped).map(chatPart);
}

/** Tool messages carry text only; images travel in the user message that follows. */
export function toolResultContent(
  result: ToolResultBlock,
  dropped: Set<string>,
): { text: string; images: OpenAIContentPart[] } {
  const { text, attachments } = shared.toolResultParts(result, dropped);
  return { text, images: attachments.map(chatPart) };
}
