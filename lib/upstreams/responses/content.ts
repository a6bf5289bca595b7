/**
 * Pure: Anthropic content blocks → Responses API input content (`input_text`, `input_image`,
 * `input_file`). https://platform.openai.com/docs/api-reference/responses/create#responses-create-input
 * Types with no Responses form are recorded in `dropped`.
 */
import type {
  ContentBlock,
  DocumentBlock,
  ImageBlock,
  ToolResultBlock,
} from "../../anthropic/schema.ts";
import { decodeBase64 } from "../../common/base64.ts";
import type { InputContent } from "./schema.ts";

function imagePart(block: ImageBlock, dropped: Set<string>): InputContent | undefined {
  const src = block.source;
  switch (src.type) {
    case "base64":
      return {
        type: "input_image",
        image_url: `data:${src.media_type};base64,${src.data}`,
        detail: "auto",
      };
    case "url":
      return { type: "input_image", image_url: src.url, detail: "auto" };
    case "file":
      dropped.add("image:file");
      return undefined;
  }
}

function documentParts(block: DocumentBlock, dropped: Set<string>): InputContent[] {
  const title = block.title ? `Document: ${block.title}\n` : "";
  const context = block.context ? `${block.context}\n` : "";
  const text = (body: string): InputContent => ({
    type: "input_text",
    text: `${title}${context}${body}`,
  });
  const src = block.source;
  switch (src.type) {
    case "text":
      return [text(src.data)];
    case "content": {
      if (typeof src.content === "string") return [text(src.content)];
      const texts = src.content
        .map((b) => (b.type === "text" && typeof b.text === "string" ? b.text : ""))
        .filter((t) => t);
      return [text(texts.join("\n"))];
    }
    case "base64":
      if (src.media_type.startsWith("image/")) {
        return [{
          type: "input_image",
          image_url: `data:${src.media_type};base64,${src.data}`,
          detail: "auto",
        }];
      }
      if (src.media_type === "text/plain") return [text(decodeBase64Text(src.data))];
      return [{
        type: "input_file",
        filename: block.title ?? "document.pdf",
        file_data: `data:${src.media_type};base64,${src.data}`,
      }];
    case "url":
      return [text(`Document URL: ${src.url}`)];
    case "file":
      dropped.add("document:file");
      return [];
  }
}

function decodeBase64Text(data: string): string {
  try {
    return decodeBase64(data);
  } catch {
    return "";
  }
}

function searchResultText(block: { title: string; source: string; content: { text: string }[] }) {
  return `Search result: ${block.title} (${block.source})\n${
    block.content.map((c) => c.text).join("\n")
  }`;
}

/** One block of a user turn → input content. */
export function userContent(block: ContentBlock, dropped: Set<string>): InputContent[] {
  switch (block.type) {
    case "text":
      return block.text ? [{ type: "input_text", text: block.text }] : [];
    case "image": {
      const part = imagePart(block, dropped);
      return part ? [part] : [];
    }
    case "document":
      return documentParts(block, dropped);
    case "search_result":
      return [{ type: "input_text", text: searchResultText(block) }];
    case "tool_reference":
      return [{ type: "input_text", text: `Tool available: ${block.tool_name}` }];
    case "unknown":
      dropped.add(`user:${block.original_type}`);
      return [];
    default:
      // thinking / tool_use in a user turn have no Responses form.
      dropped.add(`user:${block.type}`);
      return [];
  }
}

/**
 * A tool result → the `function_call_output` text, and the images and files it held, which
 * travel in a user message right after the outputs (an output is text).
 */
export function toolResultContent(
  result: ToolResultBlock,
  dropped: Set<string>,
): { text: string; attachments: InputContent[] } {
  const attachments: InputContent[] = [];
  let text: string;
  if (result.content === undefined) text = "";
  else if (typeof result.content === "string") text = result.content;
  else {
    const texts: string[] = [];
    for (const block of result.content) {
      switch (block.type) {
        case "text":
          texts.push(block.text);
          break;
        case "image": {
          const part = imagePart(block, dropped);
          if (part) {
            attachments.push(part);
            texts.push("[image attached in the next message]");
          }
          break;
        }
        case "document":
          for (const p of documentParts(block, dropped)) {
            if (p.type === "input_text") texts.push(p.text);
            else attachments.push(p);
          }
          break;
        case "search_result":
          texts.push(searchResultText(block));
          break;
        case "tool_reference":
          texts.push(`Tool loaded: ${block.tool_name}`);
          break;
        case "unknown":
          dropped.add(`tool_result:${block.original_type}`);
          break;
      }
    }
    text = texts.join("\n");
  }
  if (result.is_error) text = text ? `Error: ${text}` : "Error";
  return { text: text || "(empty result)", attachments };
}
