/**
 * Pure: Anthropic content blocks (text, image, document, search result, tool reference, tool
 * result) → the three kinds of part every OpenAI-style API accepts: text, an image by URL and a
 * file as a data URL. Each protocol only spells these its own way, so what is read from which
 * block, and what is dropped, is decided once here. Types with no such form are recorded in
 * `dropped`.
 */
import type {
  ContentBlock,
  DocumentBlock,
  ImageBlock,
  ToolResultBlock,
} from "../../anthropic/schema.ts";
import { decodeBase64 } from "../../common/base64.ts";

export type ContentPart =
  | { type: "text"; text: string }
  | { type: "image"; url: string }
  | { type: "file"; filename: string; fileData: string };

function imagePart(block: ImageBlock, dropped: Set<string>): ContentPart | undefined {
  const src = block.source;
  switch (src.type) {
    case "base64":
      return { type: "image", url: `data:${src.media_type};base64,${src.data}` };
    case "url":
      return { type: "image", url: src.url };
    case "file":
      dropped.add("image:file");
      return undefined;
  }
}

function documentParts(block: DocumentBlock, dropped: Set<string>): ContentPart[] {
  const title = block.title ? `Document: ${block.title}\n` : "";
  const context = block.context ? `${block.context}\n` : "";
  const text = (body: string): ContentPart => ({ type: "text", text: `${title}${context}${body}` });
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
        return [{ type: "image", url: `data:${src.media_type};base64,${src.data}` }];
      }
      if (src.media_type === "text/plain") return [text(decodeBase64Text(src.data))];
      return [{
        type: "file",
        filename: block.title ?? "document.pdf",
        fileData: `data:${src.media_type};base64,${src.data}`,
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

/** One block of a user turn → content parts. */
export function userParts(block: ContentBlock, dropped: Set<string>): ContentPart[] {
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
      // thinking / tool_use in a user turn have no OpenAI-style form.
      dropped.add(`user:${block.type}`);
      return [];
  }
}

/**
 * A tool result → its text, and the images and files it held. A tool's answer is text in every
 * OpenAI-style API, so those travel in a user message right after it.
 */
export function toolResultParts(
  result: ToolResultBlock,
  dropped: Set<string>,
): { text: string; attachments: ContentPart[] } {
  const attachments: ContentPart[] = [];
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
            if (p.type === "text") texts.push(p.text);
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
  // Several providers reject an empty tool message.
  return { text: text || "(empty result)", attachments };
}
