/**
 * Scripted OpenAI Responses API answers for the fake upstream (fake_upstream.ts), written from
 * the documented event grammar (https://platform.openai.com/docs/api-reference/responses-streaming):
 *
 *   response.created → response.in_progress →
 *     per output item: response.output_item.added →
 *       message:       response.content_part.added → response.output_text.delta … →
 *                      response.output_text.done → response.content_part.done
 *       reasoning:     response.reasoning_summary_part.added →
 *                      response.reasoning_summary_text.delta … → …text.done → …part.done
 *       function_call: response.function_call_arguments.delta … → …arguments.done
 *     → response.output_item.done (the whole item)
 *   → response.completed | response.incomplete | response.failed
 *
 * Every event goes out as `event: <type>` + `data: <json>` with a sequence_number, and nothing
 * follows the last one (the Responses API sends no `[DONE]`).
 */
import { type Reply, splitText, type SseStep } from "./fake_upstream.ts";

export type ItemSpec =
  | { type: "message"; text: string; parts?: number; refusal?: boolean }
  | { type: "reasoning"; summary: string[]; encrypted?: string; id?: string }
  | {
    type: "function_call";
    call_id: string;
    name: string;
    arguments: string;
    parts?: number;
    /** Send no deltas: the arguments only in `.done` and the item. */
    onlyDone?: boolean;
    /** The item as an answer cut by its end carries it (the default is completed). */
    status?: "incomplete";
  };

export type UsageSpec = { input: number; output: number; cached?: number; reasoning?: number };

export type EndSpec = {
  status?: "completed" | "incomplete";
  incompleteReason?: "max_output_tokens" | "content_filter";
  usage?: UsageSpec | null;
};

export function usageOf(u: UsageSpec) {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached ?? 0 },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
    total_tokens: u.input + u.output,
  };
}

/** The finished output item, as `output_item.done` and the response object carry it. */
export function outputItem(spec: ItemSpec, index: number): Record<string, unknown> {
  switch (spec.type) {
    case "message":
      return {
        type: "message",
        id: `msg_${index}`,
        status: "completed",
        role: "assistant",
        content: [
          spec.refusal
            ? { type: "refusal", refusal: spec.text }
            : { type: "output_text", text: spec.text, annotations: [] },
        ],
      };
    case "reasoning":
      return {
        type: "reasoning",
        id: spec.id ?? `rs_${index}`,
        summary: spec.summary.map((text) => ({ type: "summary_text", text })),
        ...(spec.encrypted !== undefined ? { encrypted_content: spec.encrypted } : {}),
      };
    case "function_call":
      return {
        type: "function_call",
        id: `fc_${index}`,
        call_id: spec.call_id,
        name: spec.name,
        arguments: spec.arguments,
        status: spec.status ?? "completed",
      };
  }
}

function responseObject(
  status: string,
  output: Record<string, unknown>[],
  end: EndSpec,
  extra: Record<string, unknown> = {},
) {
  return {
    id: "resp_fake",
    object: "response",
    created_at: 1_700_000_000,
    status,
    model: "fake-model",
    output,
    error: null,
    incomplete_details: status === "incomplete"
      ? { reason: end.incompleteReason ?? "max_output_tokens" }
      : null,
    usage: end.usage === null || status === "in_progress"
      ? null
      : usageOf(end.usage ?? { input: 20, output: 9 }),
    ...extra,
  };
}

/** A whole (non-streamed) response object. */
export function responseJson(items: ItemSpec[], end: EndSpec = {}) {
  return responseObject(end.status ?? "completed", items.map(outputItem), end);
}

/** The events of one item at `index`, as objects with their `type`. */
function itemEvents(spec: ItemSpec, index: number): Record<string, unknown>[] {
  const item = outputItem(spec, index);
  const id = item.id as string;
  const at = { item_id: id, output_index: index };
  const out: Record<string, unknown>[] = [];
  switch (spec.type) {
    case "message": {
      out.push({
        type: "response.output_item.added",
        output_index: index,
        item: { ...item, status: "in_progress", content: [] },
      });
      const part = spec.refusal
        ? { type: "refusal", refusal: "" }
        : { type: "output_text", text: "", annotations: [] };
      out.push({ type: "response.content_part.added", ...at, content_index: 0, part });
      const kind = spec.refusal ? "response.refusal" : "response.output_text";
      for (const delta of splitText(spec.text, spec.parts ?? 3)) {
        out.push({ type: `${kind}.delta`, ...at, content_index: 0, delta });
      }
      out.push({
        type: `${kind}.done`,
        ...at,
        content_index: 0,
        ...(spec.refusal ? { refusal: spec.text } : { text: spec.text }),
      });
      out.push({
        type: "response.content_part.done",
        ...at,
        content_index: 0,
        part: (item.content as unknown[])[0],
      });
      break;
    }
    case "reasoning": {
      out.push({
        type: "response.output_item.added",
        output_index: index,
        item: { type: "reasoning", id, summary: [] },
      });
      spec.summary.forEach((text, summary_index) => {
        out.push({
          type: "response.reasoning_summary_part.added",
          ...at,
          summary_index,
          part: { type: "summary_text", text: "" },
        });
        for (const delta of splitText(text, 2)) {
          out.push({ type: "response.reasoning_summary_text.delta", ...at, summary_index, delta });
        }
        out.push({ type: "response.reasoning_summary_text.done", ...at, summary_index, text });
        out.push({
          type: "response.reasoning_summary_part.done",
          ...at,
          summary_index,
          part: { type: "summary_text", text },
        });
      });
      break;
    }
    case "function_call": {
      out.push({
        type: "response.output_item.added",
        output_index: index,
        item: { ...item, arguments: "", status: "in_progress" },
      });
      if (!spec.onlyDone) {
        for (const delta of splitText(spec.arguments, spec.parts ?? 3)) {
          out.push({ type: "response.function_call_arguments.delta", ...at, delta });
        }
      }
      out.push({ type: "response.function_call_arguments.done", ...at, arguments: spec.arguments });
      break;
    }
  }
  out.push({ type: "response.output_item.done", output_index: index, item });
  return out;
}

/** All events of a streamed answer, as objects (before SSE framing). */
export function responseEvents(items: ItemSpec[], end: EndSpec = {}): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [
    { type: "response.created", response: responseObject("in_progress", [], end) },
    { type: "response.in_progress", response: responseObject("in_progress", [], end) },
  ];
  items.forEach((spec, i) => events.push(...itemEvents(spec, i)));
  const status = end.status ?? "completed";
  events.push({
    type: `response.${status}`,
    response: responseObject(status, items.map(outputItem), end),
  });
  return events;
}

/** SSE framing: `event:` and `data:` lines with sequence numbers. */
export function frame(events: Record<string, unknown>[]): SseStep[] {
  return events.map((e, sequence_number) => ({
    raw: `event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number })}\n\n`,
  }));
}

/** A streamed answer for the fake upstream. */
export function responseStream(items: ItemSpec[], end: EndSpec = {}): Reply {
  return { sse: frame(responseEvents(items, end)), done: false };
}

/** The error event of a stream that fails mid-way. */
export function errorEvent(code: string, message: string): Record<string, unknown> {
  return { type: "error", code, message, param: null };
}

/** A `response.failed` event. */
export function failedEvent(code: string, message: string): Record<string, unknown> {
  return {
    type: "response.failed",
    response: responseObject("failed", [], {}, { error: { code, message } }),
  };
}
