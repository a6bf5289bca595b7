/**
 * Image token estimates with Anthropic's formula: the long edge scaled down to 1568 px, then
 * `ceil(width × height / 750)`, capped at 1,600. Width and height come from the first bytes of
 * base64 PNG, JPEG, GIF and WebP data (only a few bytes are decoded); anything unreadable
 * counts the cap. https://docs.anthropic.com/en/docs/build-with-claude/vision#calculate-image-costs
 */
import type { ImageBlock } from "../anthropic/schema.ts";

/** Upper bound of one image (Anthropic: ~1.15 megapixels ≈ 1,600 tokens). */
export const IMAGE_MAX_TOKENS = 1600;
/** An image whose size we cannot read (URL, file id, unknown format) counts the cap. */
export const IMAGE_FALLBACK_TOKENS = IMAGE_MAX_TOKENS;

const IMAGE_MAX_LONG_EDGE = 1568;
const IMAGE_PIXELS_PER_TOKEN = 750;

interface ImageSize {
  width: number;
  height: number;
}

/** Decodes bytes [start, start + length) of a base64 string as a binary string, or undefined. */
function base64Slice(b64: string, start: number, length: number): string | undefined {
  const firstQuad = Math.floor(start / 3);
  const lastQuad = Math.ceil((start + length) / 3);
  if (firstQuad * 4 >= b64.length) return undefined;
  try {
    const binary = atob(b64.slice(firstQuad * 4, lastQuad * 4));
    const offset = start - firstQuad * 3;
    const bytes = binary.slice(offset, offset + length);
    return bytes.length === length ? bytes : undefined;
  } catch {
    return undefined;
  }
}

const byteAt = (bytes: string, i: number): number => bytes.charCodeAt(i) & 0xff;
const u16be = (b: string, i: number): number => (byteAt(b, i) << 8) | byteAt(b, i + 1);
const u16le = (b: string, i: number): number => byteAt(b, i) | (byteAt(b, i + 1) << 8);
const u24le = (b: string, i: number): number => u16le(b, i) | (byteAt(b, i + 2) << 16);
const u32be = (b: string, i: number): number => u16be(b, i) * 65536 + u16be(b, i + 2);

function jpegSize(b64: string): ImageSize | undefined {
  let pos = 2;
  for (let segments = 0; segments < 256; segments++) {
    const header = base64Slice(b64, pos, 4);
    if (header === undefined || byteAt(header, 0) !== 0xff) return undefined;
    const marker = byteAt(header, 1);
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) {
      pos += 2; // markers without a length
      continue;
    }
    const isStartOfFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 &&
      marker !== 0xc8 && marker !== 0xcc;
    if (isStartOfFrame) {
      const frame = base64Slice(b64, pos + 5, 4);
      return frame === undefined ? undefined : { height: u16be(frame, 0), width: u16be(frame, 2) };
    }
    pos += 2 + u16be(header, 2);
  }
  return undefined;
}

/** Width and height from the header of a base64 PNG, JPEG, GIF or WebP; undefined otherwise. */
export function imageSizeFromBase64(data: string): ImageSize | undefined {
  const b64 = data.startsWith("data:") ? data.slice(data.indexOf(",") + 1) : data;
  let head: string;
  try {
    head = atob(b64.slice(0, 40)); // the first 30 bytes (fewer if the image is tiny)
  } catch {
    return undefined;
  }
  if (head.startsWith("\x89PNG\r\n\x1a\n") && head.length >= 24) {
    return { width: u32be(head, 16), height: u32be(head, 20) };
  }
  if (byteAt(head, 0) === 0xff && byteAt(head, 1) === 0xd8) return jpegSize(b64);
  if (head.startsWith("GIF8") && head.length >= 10) {
    return { width: u16le(head, 6), height: u16le(head, 8) };
  }
  if (head.startsWith("RIFF") && head.slice(8, 12) === "WEBP" && head.length >= 30) {
    const chunk = head.slice(12, 16);
    if (chunk === "VP8 ") {
      return { width: u16le(head, 26) & 0x3fff, height: u16le(head, 28) & 0x3fff };
    }
    if (chunk === "VP8L") {
      const b1 = byteAt(head, 21),
        b2 = byteAt(head, 22),
        b3 = byteAt(head, 23),
        b4 = byteAt(head, 24);
      return {
        width: 1 + (((b2 & 0x3f) << 8) | b1),
        height: 1 + (((b4 & 0x0f) << 10) | (b3 << 2) | ((b2 & 0xc0) >> 6)),
      };
    }
    if (chunk === "VP8X") return { width: 1 + u24le(head, 24), height: 1 + u24le(head, 27) };
  }
  return undefined;
}

/** Anthropic's image formula: long edge scaled to ≤ 1568 px, then w·h/750, capped at 1,600. */
export function imageTokensForSize(width: number, height: number): number {
  if (!(width > 0 && height > 0)) return IMAGE_FALLBACK_TOKENS;
  const scale = Math.min(1, IMAGE_MAX_LONG_EDGE / Math.max(width, height));
  const tokens = Math.ceil((width * scale) * (height * scale) / IMAGE_PIXELS_PER_TOKEN);
  return Math.min(IMAGE_MAX_TOKENS, Math.max(1, tokens));
}

/** Token estimate of one image block. */
export function estimateImageTokens(block: Pick<ImageBlock, "source">): number {
  const source = block.source;
  if (source?.type !== "base64" || typeof source.data !== "string") return IMAGE_FALLBACK_TOKENS;
  const size = imageSizeFromBase64(source.data);
  return size === undefined ? IMAGE_FALLBACK_TOKENS : imageTokensForSize(size.width, size.height);
}
