/**
 * The server tool loop for a streaming client: one client stream over several upstream rounds.
 * The rounds' SSE bytes are joined into one body that the ordinary stream driver reads, so
 * pings, the idle timeout and client aborts work as for any stream. Between rounds the body
 * sends a marker event (its name holds a per-request nonce no upstream can guess) at which the
 * converter (loop_events.ts) releases the events queued for it: the closing of a round, the
 * results.
 */
import { answersWithEvents } from "../../upstreams/event_stream.ts";
import { followUpMessages } from "../../websearch/followup.ts";
import { LoopEvents, type RoundEnd, WholeMessage } from "./loop_events.ts";
import type { Round, ServerToolSession } from "./session.ts";

const encoder = new TextEncoder();

/**
 * The joined body of every round's SSE bytes, running the calls and the follow-up rounds in
 * between. A failure of a later round errors the body: the driver ends the client's stream with
 * `event: error` after what was already sent.
 */
export function loopBody(
  session: ServerToolSession,
  first: Round,
  events: LoopEvents,
  marker: string,
): ReadableStream<Uint8Array> {
  const markerBytes = encoder.encode(`event: ${marker}\ndata: {}\n\n`);
  // Ends an event the round's last bytes may have left open, before anything else is read.
  const terminator = encoder.encode("\n\n");
  let round = 0;
  let messages = session.request.messages;
  let current: Round | undefined = first;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let phase: "reading" | "ended" | "calls" | "next" | "closing" = "reading";
  let pending: { end: RoundEnd } | undefined;
  let cancelled = false;

  const startReading = (r: Round) => {
    current = r;
    reader = r.upstream.response.body?.getReader();
    phase = reader ? "reading" : "ended";
  };

  const setUp = () => {
    if (answersWithEvents(first.upstream.response) && first.upstream.response.body) {
      startReading(first);
    } else phase = "ended";
  };

  return new ReadableStream<Uint8Array>({
    start() {
      setUp();
    },
    async pull(controller) {
      while (!cancelled) {
        switch (phase) {
          case "reading": {
            const r = current!;
            if (events.roundDone) {
              await reader!.cancel().catch(() => {});
              r.upstream.abort("done");
              phase = "ended";
              controller.enqueue(terminator);
              return;
            }
            let chunk: ReadableStreamReadResult<Uint8Array>;
            try {
              chunk = await reader!.read();
            } catch (err) {
              throw r.upstream.signal.aborted ? r.upstream.signal.reason : err;
            }
            if (r.upstream.signal.aborted) throw r.upstream.signal.reason;
            if (!chunk.done) {
              controller.enqueue(chunk.value);
              return;
            }
            r.upstream.abort("done");
            phase = "ended";
            controller.enqueue(terminator);
            return;
          }
          case "ended": {
            const end = events.endRound();
            const stop = end.calls.length === 0 || end.clientCall || session.isLastRound(round);
            if (end.calls.length === 0) phase = "closing";
            else {
              pending = { end };
              phase = "calls";
              if (stop && end.clientCall) events.setStop("tool_use");
              else if (stop) events.setStop("end_turn");
            }
            controller.enqueue(markerBytes);
            return;
          }
          case "calls": {
            const { end } = pending!;
            const ran = await session.run(end.calls);
            events.queueBlocks(ran.map((c) => c.block));
            const stop = end.clientCall || session.isLastRound(round);
            if (stop) phase = "closing";
            else {
              messages = [...messages, ...followUpMessages(end.blocks, ran)];
              phase = "next";
            }
            controller.enqueue(markerBytes);
            return;
          }
          case "next": {
            round++;
            const request = { ...session.roundRequest(round, messages), stream: true };
            const next = await session.send(request, round);
            if (cancelled) {
              next.upstream.abort("client");
              return;
            }
            const answer = await session.streamOrMessage(next);
            if ("stream" in answer) {
              events.beginRound(next.exchange.stream());
              startReading(answer.stream);
            } else {
              events.beginRound(new WholeMessage(answer.message));
              current = next;
              phase = "ended";
            }
            continue;
          }
          case "closing":
            controller.close();
            return;
        }
      }
    },
    cancel(reason) {
      cancelled = true;
      reader?.cancel(reason).catch(() => {});
      current?.upstream.abort("client");
    },
  }, { highWaterMark: 0 });
}
