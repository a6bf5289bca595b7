/**
 * Pure: Anthropic content blocks (text, image, document, search result, tool reference, tool
 * result) → OpenAI content parts. Types with no OpenAI form are recorded in `dropped`.
 */
import type {
  ContentBlock,
  DocumentBlock,
  ImageBlock,
  ToolResultBlock,
} from "../../anthropic/schema.ts";
import { decodeBase64 } from "../../common/base64.ts";
import type { OpenAIContentPart } from "./schema.ts";

function imagePart(block: ImageBlock, dropped: Set<string>): OpenAIContentPart | undefined {
  const src = block.source;
  switch (src.type) {
    case "base64":
      return { type: "image_url", image_url: { url: `data:${src.media_type};base64,${src.data}` } };
    case "url":
      return { type: "image_url", image_url: { url: src.url } };
    case "file":
      dropped.add("image:file");
      return undefined;
  }
}

function documentParts(block: DocumentBlock, dropped: Set<string>): OpenAIContentPart[] {
  const title = block.title ? `Document: ${block.title}\n` : "";
  const context = block.context ? `${block.context}\n` : "";
  const src = block.source;
  switch (src.type) {
    case "text":
      return [{ type: "text", text: `${title}${context}${src.data}` }];
    case "content": {
      if (typeof src.content === "string") {
        return [{ type: "text", text: `${title}${context}${src.content}` }];
      }
      const texts = src.content
        .map((b) => (b.type === "text" && typeof b.text === "string" ? b.text : ""))
        .filter((t) => t);
      return [{ type: "text", text: `${title}${context}${texts.join("\n")}` }];
    }
    case "base64":
      if (src.media_type.startsWith("image/")) {
        return [{
          type: "image_url",
          image_url: { url: `data:${src.media_type};base64,${src.data}` },
        }];
      }
      if (src.media_type === "text/plain") {
        return [{ type: "text", text: `${title}${context}${decodeBase64Text(src.data)}` }];
      }
      return [{
        type: "file",
        file: {
          filename: block.title ?? "document.pdf",
          file_data: `data:${src.media_type};base64,${src.data}`,
        },
      }];
    case "url":
      return [{ type: "text", text: `${title}${context}Document URL: ${src.url}` }];
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

export function userParts(block: ContentBlock, dropped: Set<string>): OpenAIContentPart[] {
  switch (block.type) {
    case "text":
      return block.text ? [{ type: "text", text: block.text }] : [];
    case "image": {
      const part = imagePart(block, dropped);
      return part ? [part] : [];
    }
    case "document":
      return documentParts(block, dropped);
    case "search_result":
      return [{ type: "text", text: searchResultText(block) }];
    case "tool_reference":
      return [{ type: "text", text: `Tool available: ${block.tool_name}` }];
    case "unknown":
      dropped.add(`user:${block.original_type}`);
      return [];
    default:
      // thinking / tool_use in a user turn have no OpenAI form.
      dropped.add(`user:${block.type}`);
      return [];
  }
}

function searchResultText(block: { title: string; source: string; content: { text: string }[] }) {
  return `Search result: ${block.title} (${block.source})\n${
    block.content.map((c) => c.text).join("\n")
  }`;
}

/** Tool messages carry text only; images travel in the user message that follows. */
export function toolResultContent(
  result: ToolResultBlock,
  dropped: Set<string>,
): { text: string; images: OpenAIContentPart[] } {
  const images: OpenAIContentPart[] = [];
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
            images.push(part);
            texts.push("[image attached in the next message]");
          }
          break;
        }
        case "document":
          for (const p of documentParts(block, dropped)) {
            if (p.type === "text") texts.push(p.text);
            else images.push(p);
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
  // Several providers reject an empty tool message.
  return { text: text || "(empty result)", images };
}
