/**
 * A dashboard watching the proxy's live feed (GET /ui/api/events), as an open /ui page does,
 * for the benchmarks that measure what monitoring costs. `seen` is how many requests the feed
 * has reported so far; `stop` closes it and says the same.
 */
export function watchDashboard(
  url: string,
  key: string,
): { seen: () => number; stop: () => Promise<number> } {
  const abort = new AbortController();
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let events = 0;
  const done = (async () => {
    try {
      const res = await fetch(`${url}/ui/api/events`, {
        headers: { "x-api-key": key },
        signal: abort.signal,
      });
      if (!res.ok || !res.body) return;
      reader = res.body.getReader();
      const dec = new TextDecoder();
      let rest = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const lines = (rest + dec.decode(value, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        // Each flush's `totals` counts every request it covers (a busy feed sends few rows).
        for (const line of lines) {
          if (line.startsWith('data: {"requests":')) {
            events += Number(line.slice(18, line.indexOf(",")));
          }
        }
      }
    } catch {
      // closed at the end of the measurement
    }
  })();
  return {
    seen: () => events,
    stop: async () => {
      abort.abort();
      // Not every runtime ends a pending body read when its fetch is aborted (Deno 2.9 does not).
      await reader?.cancel().catch(() => {});
      await done;
      return events;
    },
  };
}
