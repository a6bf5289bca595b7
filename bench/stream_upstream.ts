/**
 * A slow streaming fake OpenAI upstream for the deployment benches (lb.ts, container.ts): each
 * streamed answer sends one text chunk every 250 ms for `streamS` seconds. It counts requests
 * by the `stream-id-N` marker in their text (to see any request sent twice) and by the
 * `x-bench-proxy` header each proxy adds, and knows which streams are open right now.
 */
import { createServer as createHttpServer } from "node:http";

/** The fake upstream: each stream sends one text chunk every 250 ms for `streamS` seconds. */
export async function startStreamUpstream(streamS: number) {
  const seen = new Map<string, number>();
  const byProxy = new Map<string, number>();
  const proxyOf = new Map<string, string>();
  /** Streams the upstream is sending right now, by proxy. */
  const active = new Map<string, number>();
  const server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const id = body.match(/stream-id-(\d+)/)?.[1] ?? "none";
      seen.set(id, (seen.get(id) ?? 0) + 1);
      proxyOf.set(id, String(req.headers["x-bench-proxy"] ?? "?"));
      const proxy = String(req.headers["x-bench-proxy"] ?? "?");
      byProxy.set(proxy, (byProxy.get(proxy) ?? 0) + 1);
      active.set(proxy, (active.get(proxy) ?? 0) + 1);
      res.on("close", () => active.set(proxy, (active.get(proxy) ?? 1) - 1));
      res.writeHead(200, { "content-type": "text/event-stream" });
      const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
        `data: ${
          JSON.stringify({
            id: "c",
            object: "chat.completion.chunk",
            created: 1,
            model: "m",
            choices: [{ index: 0, delta, finish_reason: finish }],
          })
        }\n\n`;
      res.write(chunk({ role: "assistant", content: "" }));
      const total = Math.round(streamS * 4);
      let n = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        if (n++ < total) return void res.write(chunk({ content: `word${n} ` }));
        clearInterval(timer);
        res.write(chunk({}, "stop"));
        res.end("data: [DONE]\n\n");
      }, 250);
      res.on("close", () => clearInterval(timer));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  if (!a || typeof a !== "object") throw new Error("no upstream address");
  return {
    url: `http://127.0.0.1:${a.port}/v1`,
    seen,
    byProxy,
    proxyOf,
    active,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}
