/**
 * Bytes → server-sent events, per the WHATWG event-stream grammar
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream):
 * lines end in \n, \r\n or \r; `:` starts a comment; an event is dispatched on a blank line.
 */

export type SseMessage = { event: string | undefined; data: string };

export class SseDecoder {
  #text = new TextDecoder();
  #buffer = "";
  #event: string | undefined = undefined;
  #data: string[] = [];
  // A chunk may end between \r and \n: the \n that follows must not count as a blank line.
  #skipLeadingLf = false;

  /** Feeds bytes (or text) and returns the events completed by them. */
  push(chunk: Uint8Array | string): SseMessage[] {
    const text = typeof chunk === "string" ? chunk : this.#text.decode(chunk, { stream: true });
    return this.#consume(text, false);
  }

  /** Ends the input: an event without its closing blank line still counts. */
  flush(): SseMessage[] {
    const out = this.#consume(this.#text.decode(), true);
    if (this.#buffer) this.#line(this.#buffer, out);
    this.#buffer = "";
    if (this.#data.length > 0) this.#dispatch(out);
    return out;
  }

  /**
   * Only the new text is scanned: the unfinished line before it (`#buffer`) holds no line break,
   * so one event of megabytes in many chunks costs linear time, not a rescan per chunk.
   */
  #consume(text: string, _final: boolean): SseMessage[] {
    const out: SseMessage[] = [];
    let s = text;
    if (this.#skipLeadingLf && s.length > 0) {
      if (s[0] === "\n") s = s.slice(1);
      this.#skipLeadingLf = false;
    }
    let start = 0;
    const len = s.length;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      if (start === 0 && this.#buffer) {
        this.#line(this.#buffer + s.slice(0, i), out);
        this.#buffer = "";
      } else this.#line(s.slice(start, i), out);
      if (c === 13) {
        if (i + 1 < len) {
          if (s.charCodeAt(i + 1) === 10) i++;
        } else {
          this.#skipLeadingLf = true;
        }
      }
      start = i + 1;
    }
    if (start < len) this.#buffer = start === 0 ? this.#buffer + s : s.slice(start);
    return out;
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === "") {
      if (this.#data.length > 0 || this.#event !== undefined) this.#dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment, e.g. OpenRouter's keep-alives
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
  }

  #dispatch(out: SseMessage[]): void {
    out.push({ event: this.#event, data: this.#data.join("\n") });
    this.#event = undefined;
    this.#data = [];
  }
}

/** The decoder as a stream stage: `body.pipeThrough(sseDecodeStream())`. */
export function sseDecodeStream(): TransformStream<Uint8Array, SseMessage> {
  const decoder = new SseDecoder();
  return new TransformStream({
    transform(chunk, controller) {
      for (const m of decoder.push(chunk)) controller.enqueue(m);
    },
    flush(controller) {
      for (const m of decoder.flush()) controller.enqueue(m);
    },
  });
}
