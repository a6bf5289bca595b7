/**
 * RECORD_DIR: one file per exchange (see record_file.ts), collected along the request and
 * written after the answer is done, one file at a time, off the request path. Recording never
 * fails or slows a request: a file over RECORD_MAX_FILE_BYTES is skipped, and once the directory
 * would pass RECORD_MAX_DIR_BYTES (or a write fails) recording stops, each with one log line.
 */
import { SECRET_HEADER } from "../common/secret_values.ts";
import type { ProxyError } from "../anthropic/errors.ts";
import type { MessageResponse, StreamEvent } from "../anthropic/schema.ts";
import type { Logger } from "../ops/log.ts";
import type { SseMessage } from "../upstreams/sse_decode.ts";
import {
  RECORD_FORMAT,
  RECORD_VERSION,
  type RecordedChunk,
  type RecordedError,
  type RecordFile,
  type UpstreamRequestRecord,
  type UpstreamResponseRecord,
} from "./record_file.ts";

/** Where the files go; the runtime's file API (lib/runtime/record_store.ts). */
export type RecordStore = {
  /** Bytes the directory's files hold now. */
  usedBytes(): Promise<number>;
  /** Writes a whole file, never a part of one (temporary file, then rename). */
  write(name: string, text: string): Promise<void>;
};

export type RecorderOptions = {
  store: RecordStore;
  maxFileBytes: number;
  maxDirBytes: number;
  log: Logger;
  /**
   * Takes configured keys and key-shaped strings out of every string written, unless the
   * exchange brings its own (the request's, which knows the routing file's keys too).
   */
  redact: (text: string) => string;
  now?: () => number;
};

export class Recorder {
  #opts: RecorderOptions;
  #now: () => number;
  #queue: Promise<void> = Promise.resolve();
  #used: number | undefined;
  #stopped = false;
  /** Records waiting for the writer, bounded so a slow disk cannot grow memory without end. */
  #waiting = 0;
  /** Exchanges skipped since the writer fell behind; 0 while it keeps up. */
  #skipped = 0;

  constructor(opts: RecorderOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** A recording for one exchange, or undefined once recording has stopped. */
  begin(
    requestId: string,
    started: number,
    clientRequest: unknown,
    clientHeaders: Headers,
    stream: boolean,
    redact: (text: string) => string = this.#opts.redact,
  ): ExchangeRecording | undefined {
    if (this.#stopped) return undefined;
    return new ExchangeRecording({
      requestId,
      stream,
      started,
      clientRequest,
      clientHeaders,
      now: this.#now,
      maxBytes: this.#opts.maxFileBytes,
      submit: (build) => this.#submit(requestId, build, redact),
      oversize: () =>
        this.#opts.log.warn("exchange not recorded: larger than RECORD_MAX_FILE_BYTES", {
          request_id: requestId,
          max_bytes: this.#opts.maxFileBytes,
        }),
    });
  }

  /** Resolves when every finished exchange is on disk (or given up): for shutdown and tests. */
  flush(): Promise<void> {
    return this.#queue;
  }

  #submit(requestId: string, build: () => RecordFile, redact: (text: string) => string): void {
    if (this.#stopped) return;
    if (this.#waiting >= MAX_WAITING) {
      // One line when a spell of a slow disk begins, one when it is over: not one per request,
      // nor one each time a single slot frees and fills again.
      if (this.#skipped++ === 0) {
        this.#opts.log.warn("exchanges not recorded: the writer is behind", {
          request_id: requestId,
        });
      }
      return;
    }
    this.#waiting++;
    this.#queue = this.#queue.then(() => this.#write(build(), redact)).catch((err) => {
      this.#stop("recording stopped: cannot write to RECORD_DIR", {
        error: err instanceof Error ? err.message : String(err),
      });
    }).finally(() => {
      if (--this.#waiting > 0 || this.#skipped === 0) return;
      this.#opts.log.info("recording caught up", { not_recorded: this.#skipped });
      this.#skipped = 0;
    });
  }

  async #write(record: RecordFile, redact: (text: string) => string): Promise<void> {
    if (this.#stopped) return;
    const { maxFileBytes, maxDirBytes, store, log } = this.#opts;
    const text = JSON.stringify(redactStrings(record, redact), null, 2) + "\n";
    const bytes = new TextEncoder().encode(text).byteLength;
    if (bytes > maxFileBytes) {
      log.warn("exchange not recorded: larger than RECORD_MAX_FILE_BYTES", {
        request_id: record.request_id,
        bytes,
        max_bytes: maxFileBytes,
      });
      return;
    }
    this.#used ??= await store.usedBytes();
    if (this.#used + bytes > maxDirBytes) {
      return this.#stop("recording stopped: RECORD_DIR reached RECORD_MAX_DIR_BYTES", {
        used_bytes: this.#used,
        max_bytes: maxDirBytes,
      });
    }
    await store.write(fileName(record), text);
    this.#used += bytes;
  }

  #stop(msg: string, fields: Record<string, unknown>): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#opts.log.warn(msg, fields);
  }
}

const MAX_WAITING = 64;

/** Sorts by time; the request id keeps names unique. */
function fileName(record: RecordFile): string {
  return `${record.time.replace(/[:.]/g, "-")}_${record.request_id}.json`;
}

/** A copy with every string redacted; header values under a secret name replaced whole. */
export function redactStrings(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactStrings(v, redact));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactStrings(v, redact);
    return out;
  }
  return value;
}

export function safeHeaders(headers: Record<string, string> | Headers): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = headers instanceof Headers ? headers.entries() : Object.entries(headers);
  for (const [name, value] of entries) {
    out[name] = SECRET_HEADER.test(name) ? "[REDACTED]" : value;
  }
  return out;
}

/** What the stream recorder (recording_converter.ts) reports. */
export interface StreamTap {
  upstream(message: SseMessage): void;
  keepAlive(): void;
  client(events: readonly StreamEvent[]): void;
  converterError(): void;
}

type RecordingInit = {
  requestId: string;
  /** The client asked for a stream. */
  stream: boolean;
  started: number;
  clientRequest: unknown;
  clientHeaders: Headers;
  now: () => number;
  maxBytes: number;
  /** Hands over the file's content, built when the writer gets to it (off the request path). */
  submit: (build: () => RecordFile) => void;
  oversize: () => void;
};

/** One exchange being recorded; written once, when `finish*` is first called. */
export class ExchangeRecording implements StreamTap {
  #init: RecordingInit;
  #upstreamRequest:
    | (Omit<UpstreamRequestRecord, "body" | "headers"> & {
      body: string;
      headers: Record<string, string>;
    })
    | undefined;
  #httpError: UpstreamResponseRecord | undefined;
  #chunks: RecordedChunk[] = [];
  #events: StreamEvent[] = [];
  #converterFailed = false;
  #body: string | undefined;
  /** Roughly what the stream's parts will take in the file, to bound memory before writing. */
  #bytes = 0;
  #oversize = false;
  #done = false;

  constructor(init: RecordingInit) {
    this.#init = init;
  }

  upstreamRequest(
    req: Omit<UpstreamRequestRecord, "body" | "headers"> & {
      body: string;
      headers: Record<string, string>;
    },
  ): void {
    this.#upstreamRequest = req;
    this.#grow(req.body.length);
  }

  /** Wraps a protocol's httpError to keep the (last) error answer the upstream gave. */
  tapHttpError<T>(
    read: (status: number, body: string, headers: Headers) => T,
  ): (status: number, body: string, headers: Headers) => T {
    return (status, body, headers) => {
      this.#httpError = { kind: "http_error", status, headers: safeHeaders(headers), body };
      return read(status, body, headers);
    };
  }

  upstream(message: SseMessage): void {
    if (this.#oversize) return;
    const t = this.#init.now() - this.#init.started;
    this.#chunks.push(
      message.event === undefined ? { t, data: message.data } : {
        t,
        event: message.event,
        data: message.data,
      },
    );
    // The data, and about as much again for the events it becomes.
    this.#grow(2 * message.data.length + 32);
  }

  keepAlive(): void {
    if (this.#oversize) return;
    this.#chunks.push({ t: this.#init.now() - this.#init.started, keep_alive: true });
  }

  client(events: readonly StreamEvent[]): void {
    if (this.#oversize) return;
    for (const e of events) this.#events.push(e);
  }

  converterError(): void {
    this.#converterFailed = true;
  }

  /** A stream ended: complete, or with the error its client got. */
  finishStream(status: "complete" | "error" | "client_gone", error: ProxyError | undefined): void {
    const end = status === "complete"
      ? "complete"
      : this.#converterFailed
      ? "converter_error"
      : "cut";
    this.#finish(
      { kind: "stream", status: 200, chunks: this.#chunks, end },
      {
        status: status === "client_gone" ? 499 : 200,
        stream: true,
        events: this.#events,
        ...(error ? { error: recordedError(error) } : {}),
      },
    );
  }

  /** A whole answer's body, as the upstream sent it. */
  upstreamBody(body: string): void {
    this.#body = body;
    this.#grow(2 * body.length);
  }

  /** The message the client got (as JSON, or as events when it asked for a stream). */
  finishMessage(message: MessageResponse): void {
    this.#finish(
      { kind: "message", status: 200, body: this.#body ?? "" },
      { status: 200, stream: this.#init.stream, message },
    );
  }

  /**
   * The exchange failed before an answer went out: the upstream's error answer if there was
   * one, a whole body that could not be converted, or nothing (connection failure).
   */
  finishError(error: ProxyError): void {
    const upstream = this.#body !== undefined
      ? { kind: "message" as const, status: 200, body: this.#body }
      : this.#httpError;
    this.#finish(upstream, {
      status: error.status,
      stream: this.#init.stream,
      error: recordedError(error),
    });
  }

  #grow(n: number): void {
    this.#bytes += n;
    if (this.#bytes > this.#init.maxBytes && !this.#oversize) {
      this.#oversize = true;
      this.#chunks = [];
      this.#events = [];
    }
  }

  #finish(
    upstream: UpstreamResponseRecord | undefined,
    client: RecordFile["client_response"],
  ): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#oversize) return this.#init.oversize();
    const init = this.#init;
    const durationMs = init.now() - init.started;
    const sent = this.#upstreamRequest;
    init.submit(() => ({
      format: RECORD_FORMAT,
      version: RECORD_VERSION,
      request_id: init.requestId,
      time: new Date(init.started).toISOString(),
      duration_ms: durationMs,
      client_headers: safeHeaders(init.clientHeaders),
      client_request: init.clientRequest,
      ...(sent
        ? {
          upstream_request: {
            ...sent,
            headers: safeHeaders(sent.headers),
            body: jsonOrText(sent.body),
          },
        }
        : {}),
      ...(upstream ? { upstream_response: upstream } : {}),
      client_response: client,
    }));
  }
}

/** A JSON body as its value (readable in the file), anything else as the text it was. */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function recordedError(e: ProxyError): RecordedError {
  return { status: e.status, type: e.type, message: e.message };
}
