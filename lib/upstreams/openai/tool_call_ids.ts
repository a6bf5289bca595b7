/**
 * The ids of one answer's tool calls, as the client sees them. Claude Code pairs each
 * tool_result with its tool_use by id, and the proxy refuses an empty id in the next request, so
 * every call needs an id that is non-empty and unique in its answer. Upstreams do not always give
 * one: some send `""`, some repeat an id for parallel calls (llama.cpp-based servers and gateways
 * that number calls per chunk).
 *
 * No mapping back is needed: the id made here is the one the next request sends upstream, for the
 * assistant's call and for the tool message that answers it alike, so the pair stays a pair. An
 * upstream checks only that pairing (OpenAI, vLLM), or rewrites ids itself (Mistral, see
 * anthropic/tool_ids.ts).
 */
export class ToolCallIds {
  readonly #taken = new Set<string>();

  /**
   * The client id for a call: the upstream's id, made unique with a suffix when an earlier call of
   * the answer took it; `generated` when the upstream gave none (missing or empty).
   */
  claim(upstreamId: string | null | undefined, generated: string): string {
    const base = upstreamId || generated;
    let id = base;
    for (let n = 2; this.#taken.has(id); n++) id = `${base}_${n}`;
    this.#taken.add(id);
    return id;
  }
}
