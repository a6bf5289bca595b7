/**
 * Incremental pieces for streaming almost-JSON tool arguments to a client that parses them at
 * the end: a forwarder that drops trailing commas (Qwen and Llama models write `{"a": 1,}`) while
 * streaming, and a decoder for JSON that arrives wrapped in a JSON string.
 */

const QUOTE_OR_BACKSLASH = /["\\]/g;

const isBlank = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/**
 * Forwards one JSON value as it arrives. A comma outside strings is held back until the next
 * significant character: before `}` or `]` it is dropped, otherwise it goes on with it. Text
 * after the value is kept apart (`tail`) rather than forwarded.
 */
export class JsonForwarder {
  #inString = false;
  #escaped = false;
  #depth = 0;
  #done = false;
  #heldComma = false;
  #heldBlank = "";
  #forwarded = "";
  #tail = "";
  #repaired = false;

  /** Returns the text to forward now. */
  push(s: string): string {
    if (this.#done) {
      this.#tail += s;
      return "";
    }
    let out = "";
    let from = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false;
          continue;
        }
        // Strings are most of the text (a Write's file content): jump to the next quote or
        // backslash instead of looking at every character.
        QUOTE_OR_BACKSLASH.lastIndex = i;
        const next = QUOTE_OR_BACKSLASH.exec(s);
        if (next === null) break;
        i = next.index;
        if (s.charCodeAt(i) === 92 /* \ */) this.#escaped = true;
        else this.#inString = false;
        continue;
      }
      if (this.#heldComma) {
        if (isBlank(c)) {
          this.#heldBlank += s[i];
          from = i + 1;
          continue;
        }
        const closes = c === 125 /* } */ || c === 93; /* ] */
        if (closes) this.#repaired = true;
        out += (closes ? "" : ",") + this.#heldBlank;
        this.#heldComma = false;
        this.#heldBlank = "";
        from = i;
      }
      if (c === 34) this.#inString = true;
      else if (c === 123 /* { */ || c === 91 /* [ */) this.#depth++;
      else if (c === 125 || c === 93) {
        this.#depth--;
        if (this.#depth <= 0) {
          out += s.slice(from, i + 1);
          this.#tail = s.slice(i + 1);
          this.#done = true;
          this.#forwarded += out;
          return out;
        }
      } else if (c === 44 /* , */) {
        out += s.slice(from, i);
        this.#heldComma = true;
        from = i + 1;
      }
    }
    out += s.slice(from);
    this.#forwarded += out;
    return out;
  }

  /** Everything forwarded so far. */
  get forwarded(): string {
    return this.#forwarded;
  }

  /** The top-level value has closed. */
  get done(): boolean {
    return this.#done;
  }

  /** Text after the top-level value. */
  get tail(): string {
    return this.#tail;
  }

  /** A trailing comma was dropped. */
  get repaired(): boolean {
    return this.#repaired;
  }
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/**
 * Decodes the content of a JSON string as it arrives (after its opening quote), holding back
 * only an escape cut in half. After the closing quote, the rest is kept apart (`tail`).
 */
export class JsonStringDecoder {
  #held = "";
  #closed = false;
  #tail = "";
  #bad = false;

  push(s: string): string {
    if (this.#closed) {
      this.#tail += s;
      return "";
    }
    const text = this.#held + s;
    this.#held = "";
    let out = "";
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        out += text.slice(from, i);
        this.#closed = true;
        this.#tail = text.slice(i + 1);
        return out;
      }
      if (c !== "\\") continue;
      out += text.slice(from, i);
      const kind = text[i + 1];
      if (kind === undefined) {
        this.#held = text.slice(i);
        return out;
      }
      if (kind === "u") {
        const hex = text.slice(i + 2, i + 6);
        if (hex.length < 4) {
          this.#held = text.slice(i);
          return out;
        }
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.#bad = true;
        else out += String.fromCharCode(parseInt(hex, 16));
        i += 5;
      } else {
        const plain = ESCAPES[kind];
        if (plain === undefined) this.#bad = true;
        else out += plain;
        i += 1;
      }
      from = i + 1;
    }
    return out + text.slice(from);
  }

  /** The closing quote has arrived, and nothing malformed came before it. */
  get closed(): boolean {
    return this.#closed && !this.#bad && this.#held === "";
  }

  get tail(): string {
    return this.#tail;
  }
}
