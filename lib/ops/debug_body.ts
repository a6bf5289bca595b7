/**
 * Upstream bodies for the debug log. A Claude Code request is ~100 KB, most of it one system
 * prompt and the tool descriptions, and the messages come last: cutting the text at a fixed
 * length would hide exactly what one debugs. So the whole JSON structure is shown, with each
 * long string shortened to its head and tail. Used only when the debug level is on.
 */
import type { StreamEvent } from "../anthropic/schema.ts";
import type { SseMessage } from "../upstreams/sse_decode.ts";
import { StreamConverter } from "../upstreams/chat/stream.ts";

const STRING_HEAD = 600;
const STRING_TAIL = 200;
/** Text that is not JSON (or a stream) is shown up to this many characters, head and tail. */
const TEXT_HEAD = 16_000;
const TEXT_TAIL = 4_000;

function shorten(text: string, head: number, tail: number): string {
  // Shortening must save something worth the marker.
  if (text.length <= head + tail + 64) return text;
  return `${text.slice(0, head)}…[${text.length - head - tail} chars left out]…${
    text.slice(-tail)
  }`;
}

/**
 * A JSON body with every long string shortened; any other text shortened as a whole. Secrets
 * are taken out first (`redact`), so that shortening cannot leave a part of a key behind that
 * the logger's redaction would no longer recognise.
 */
export function debugBody(text: string, redact: (text: string) => string): string {
  const clean = redact(text);
  try {
    return JSON.stringify(
      JSON.parse(clean),
      (_key, v: unknown) => (typeof v === "string" ? shorten(v, STRING_HEAD, STRING_TAIL) : v),
    );
  } catch {
    // Not JSON, or nested too deeply for a replacer's stack (a 10,000-deep tool schema).
    return shorten(clean, TEXT_HEAD, TEXT_TAIL);
  }
}

/**
 * A StreamConverter that also keeps the upstream's `data:` payloads, one per line, for the
 * debug log: the first ones up to a bound and always the last few (finish reason and usage).
 */
export class RecordingConverter extends StreamConverter {
  #head: string[] = [];
  #headChars = 0;
  #tail: string[] = [];
  #chunks = 0;

  override push(msg: SseMessage): StreamEvent[] {
    this.#record(msg.data);
    return super.push(msg);
  }

  #record(data: string): void {
    this.#chunks++;
    if (this.#headChars < TEXT_HEAD) {
      this.#head.push(data);
      this.#headChars += data.length;
      return;
    }
    this.#tail.push(data);
    if (this.#tail.length > 4) this.#tail.shift();
  }

  /** The recorded payloads, one per line, and how many chunks the upstream sent. */
  recorded(redact: (text: string) => string): { chunks: number; body: string } {
    const left = this.#chunks - this.#head.length - this.#tail.length;
    const gap = left > 0 ? [`…[${left} chunks left out]…`] : [];
    const lines = [...this.#head, ...gap, ...this.#tail].map((data) => debugBody(data, redact));
    return { chunks: this.#chunks, body: lines.join("\n") };
  }
}
