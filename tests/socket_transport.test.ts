/**
 * The Deno upstream transport (lib/runtime/socket_transport.ts) against scripted raw-TCP and TLS
 * servers: framing, keep-alive, the pool, failures and their wording, aborts and backpressure.
 * Deno only: Bun uses its native fetch.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { socketTransport } from "../lib/runtime/socket_transport.ts";
import { sourceOf } from "../lib/upstreams/body_source.ts";

const onDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined" &&
  !("Bun" in globalThis);

/** One scripted answer: what the server writes for a request, given its socket. */
type Script = (socket: net.Socket, request: string) => void;

type RawServer = {
  url: string;
  port: number;
  connections: number;
  requests: string[];
  closed: number;
  close: () => Promise<void>;
};

/** A server that reads each request (head and Content-Length body) and runs `script` on it. */
async function rawServer(script: Script): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, requests: [] as string[], closed: 0 };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => {
      state.closed++;
      sockets.delete(socket);
    });
    socket.on("error", () => {});
    let buf = "";
    socket.on("data", (d) => {
      buf += d.toString("latin1");
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const request = buf.slice(0, end + 4 + length);
        buf = buf.slice(end + 4 + length);
        state.requests.push(request);
        script(socket, request);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    port,
    get connections() {
      return state.connections;
    },
    get requests() {
      return state.requests;
    },
    get closed() {
      return state.closed;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const post = { method: "POST", body: "{}" } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(10);
  }
}

/** Writes `text` a few bytes at a time, so that every parser state sees a split. */
function trickle(socket: net.Socket, text: string, step = 3): void {
  for (let i = 0; i < text.length; i += step) socket.write(text.slice(i, i + step), "latin1");
}

describe("socket transport: framing", { skip: !onDeno }, () => {
  it("decodes a chunked body split anywhere, extensions and trailers included, and reuses the connection", async () => {
    const server = await rawServer((socket) =>
      trickle(
        socket,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n" +
          "5;ext=1\r\nhello\r\n" + "7\r\n, world\r\n" + "0\r\nx-trailer: yes\r\n\r\n",
      )
    );
    const fetch = socketTransport();
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(server.url, post);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "text/event-stream");
        assert.equal(await res.text(), "hello, world");
      }
      assert.equal(server.connections, 1);
    } finally {
      await server.close();
    }
  });

  it("reads a Content-Length body exactly and keeps the connection", async () => {
    const body = "x".repeat(70_000);
    const server = await rawServer((socket) =>
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
    );
    const fetch = socketTransport();
    try {
      assert.equal(await (await fetch(server.url, post)).text(), body);
      assert.equal(await (await fetch(server.url, post)).text(), body);
      assert.equal(server.connections, 1);
    } finally {
      await server.close();
    }
  });

  it("reads a body that ends with the connection, and opens a new one next time", async () => {
    const server = await rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\n\r\nuntil the end"));
    const fetch = socketTransport();
    try {
      assert.equal(await (await fetch(server.url, post)).text(), "until the end");
      assert.equal(await (await fetch(server.url, post)).text(), "until the end");
      assert.equal(server.connections, 2);
    } finally {
      await server.close();
    }
  });

  it("honours Connection: close and HTTP/1.0", async () => {
    let n = 0;
    const server = await rawServer((socket) =>
      socket.write(
        n++ % 2 === 0
          ? "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
          : "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
      )
    );
    const fetch = socketTransport();
    try {
      for (let i = 0; i < 3; i++) assert.equal(await (await fetch(server.url, post)).text(), "ok");
      assert.equal(server.connections, 3);
    } finally {
      await server.close();
    }
  });

  it("skips interim 1xx answers, and gives 204 and HEAD answers no body", async () => {
    const server = await rawServer((socket, request) => {
      if (request.startsWith("HEAD")) {
        socket.write("HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n");
      } else if (request.includes("/empty")) socket.write("HTTP/1.1 204 No Content\r\n\r\n");
      else {
        socket.write(
          "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" +
            "HTTP/1.1 201 Created\r\ncontent-length: 4\r\n\r\ndone",
        );
      }
    });
    const fetch = socketTransport();
    try {
      const created = await fetch(server.url, post);
      assert.equal(created.status, 201);
      assert.equal(created.headers.get("link"), null);
      assert.equal(await created.text(), "done");
      const empty = await fetch(`http://127.0.0.1:${server.port}/empty`, post);
      assert.equal(empty.status, 204);
      assert.equal(empty.body, null);
      const head = await fetch(server.url, { method: "HEAD" });
      assert.equal(head.headers.get("content-length"), "1234");
      assert.equal(head.body, null);
      assert.equal(await (await fetch(server.url, post)).text(), "done");
      assert.equal(server.connections, 1);
    } finally {
      await server.close();
    }
  });

  it("keeps repeated header fields and the status text", async () => {
    const server = await rawServer((socket) =>
      socket.write(
        "HTTP/1.1 429 Slow Down\r\nset-cookie: a=1\r\nset-cookie: b=2\r\nx-list: a\r\n" +
          "x-list: b\r\nretry-after: 3\r\ncontent-length: 0\r\n\r\n",
      )
    );
    const fetch = socketTransport();
    try {
      const res = await fetch(server.url, post);
      assert.equal(res.status, 429);
      assert.equal(res.statusText, "Slow Down");
      assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
      assert.equal(res.headers.get("x-list"), "a, b");
      assert.equal(res.headers.get("retry-after"), "3");
      assert.equal(await res.text(), "");
    } finally {
      await server.close();
    }
  });

  it("does not reuse a connection that sent bytes after the body", async () => {
    const server = await rawServer((socket) =>
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA")
    );
    const fetch = socketTransport();
    try {
      assert.equal(await (await fetch(server.url, post)).text(), "ok");
      assert.equal(await (await fetch(server.url, post)).text(), "ok");
      assert.equal(server.connections, 2);
    } finally {
      await server.close();
    }
  });
});

describe("socket transport: the request", { skip: !onDeno }, () => {
  it("sends the path, query, Host, Content-Length and the URL's credentials as Basic auth unless a header is set", async () => {
    const server = await rawServer((socket) =>
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    );
    const fetch = socketTransport();
    try {
      const base =
        `http://us%40er:p%3Ass@127.0.0.1:${server.port}/v1/chat/completions?api-version=1`;
      const body = JSON.stringify({ text: "héllo" });
      await (await fetch(base, { method: "POST", headers: { "X-One": "1" }, body })).text();
      await (await fetch(base, { method: "POST", headers: { authorization: "Bearer sk-x" }, body }))
        .text();
      // The same host without credentials: none sent (they belong to the URL, not the host).
      await (await fetch(`http://127.0.0.1:${server.port}/plain`, { method: "POST", body })).text();
      const [first, second, third] = server.requests;
      assert.doesNotMatch(third!, /authorization/i);
      const basic = `Basic ${btoa("us@er:p:ss")}`;
      assert.match(first!, /^POST \/v1\/chat\/completions\?api-version=1 HTTP\/1\.1\r\n/);
      assert.match(first!, new RegExp(`\r\nhost: 127\\.0\\.0\\.1:${server.port}\r\n`));
      assert.match(first!, /\r\nX-One: 1\r\n/);
      assert.ok(first!.includes(`\r\nauthorization: ${basic}\r\n`));
      assert.match(first!, /\r\ncontent-length: 17\r\n/, "bytes, not characters");
      assert.ok(second!.includes("authorization: Bearer sk-x\r\n"));
      assert.ok(!second!.includes(basic));
    } finally {
      await server.close();
    }
  });

  it("asks for no content coding, and decodes a gzip or deflate answer sent all the same", async () => {
    const { gzipSync, deflateSync } = await import("node:zlib");
    const text = JSON.stringify({ ok: "décodé" }).repeat(50);
    const bodies = [
      ["gzip", gzipSync(text)],
      ["deflate", deflateSync(text)],
    ] as const;
    let i = 0;
    const server = await rawServer((socket) => {
      const [coding, bytes] = bodies[i++ % bodies.length]!;
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-encoding: ${coding}\r\ncontent-length: ${bytes.length}\r\n\r\n`,
      );
      socket.write(bytes);
    });
    const fetch = socketTransport();
    try {
      for (let n = 0; n < bodies.length; n++) {
        const res = await fetch(server.url, post);
        assert.equal(res.headers.get("content-encoding"), null);
        assert.equal(await res.text(), text);
      }
      assert.match(server.requests[0]!, /\r\naccept-encoding: identity\r\n/);
      await (await fetch(server.url, { ...post, headers: { "Accept-Encoding": "gzip" } })).text();
      assert.doesNotMatch(server.requests[2]!, /identity/, "a caller's own header is kept");
    } finally {
      await server.close();
    }
  });

  it("an empty body marked gzip is empty, not a truncated stream", async () => {
    const server = await rawServer((socket) =>
      socket.write("HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 0\r\n\r\n")
    );
    try {
      assert.equal(await (await socketTransport()(server.url, post)).text(), "");
    } finally {
      await server.close();
    }
  });

  it("refuses a header value with a line break before connecting", async () => {
    const server = await rawServer(() => {});
    const fetch = socketTransport();
    try {
      await assert.rejects(
        fetch(server.url, { method: "POST", headers: { authorization: "Bearer a\r\nx: y" } }),
        /invalid character in header "authorization"/,
      );
      assert.equal(server.connections, 0);
    } finally {
      await server.close();
    }
  });
});

/** The fetch error's cause, as upstream.ts's describeNetworkError reads it. */
async function failure(p: Promise<Response>): Promise<{ message: string; code?: string }> {
  const err = await p.then(() => assert.fail("resolved"), (e: unknown) => e);
  assert.ok(err instanceof TypeError, String(err));
  assert.equal(err.message, "fetch failed");
  const cause = err.cause as Error & { code?: string };
  return { message: cause.message, code: cause.code };
}

describe("socket transport: failures", { skip: !onDeno }, () => {
  it("words a refused connection as node:http did", async () => {
    const server = await rawServer(() => {});
    const port = server.port;
    await server.close();
    const got = await failure(socketTransport()(`http://127.0.0.1:${port}/`, post));
    assert.deepEqual(got, {
      message: `connect ECONNREFUSED 127.0.0.1:${port}`,
      code: "ECONNREFUSED",
    });
  });

  it("rejects malformed and oversized heads, and invalid framing", async () => {
    const answers = [
      "HTTP/2 200\r\n\r\n",
      "HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
      `HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(70 * 1024)}\r\n\r\n`,
      "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
      "HTTP/1.1 999 Odd\r\ncontent-length: 0\r\n\r\n",
    ];
    let i = 0;
    const server = await rawServer((socket) => socket.write(answers[i++]!));
    const fetch = socketTransport();
    try {
      const messages = [];
      for (let n = 0; n < answers.length; n++) {
        messages.push((await failure(fetch(server.url, post))).message);
      }
      assert.match(messages[0]!, /not an HTTP\/1\.x status line/);
      assert.match(messages[1]!, /malformed header line/);
      assert.match(messages[2]!, /response head larger than 64 KiB/);
      assert.match(messages[3]!, /invalid Content-Length/);
      assert.match(messages[4]!, /invalid status 999/);
    } finally {
      await server.close();
    }
  });

  it("fails a body cut short, chunked or by length", async () => {
    let i = 0;
    const server = await rawServer((socket) => {
      socket.end(
        i++ === 0
          ? "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel"
          : "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhel",
      );
    });
    const fetch = socketTransport();
    try {
      for (let n = 0; n < 2; n++) {
        const res = await fetch(server.url, post);
        await assert.rejects(res.text(), /upstream connection closed mid-body/);
      }
    } finally {
      await server.close();
    }
  });

  it("a connection closed without an answer fails once: the request is not sent again", async () => {
    const server = await rawServer((socket) => socket.destroy());
    try {
      const got = await failure(socketTransport()(server.url, post));
      assert.deepEqual(got, { message: "socket hang up", code: "ECONNRESET" });
      await sleep(50);
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });
});

describe("socket transport: the pool", { skip: !onDeno }, () => {
  it("drops a pooled connection the server closed, and the next request goes out on a new one", async () => {
    const server = await rawServer((socket) => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      // The server's own idle timeout, shorter than the pool's.
      setTimeout(() => socket.end(), 20);
    });
    const fetch = socketTransport();
    try {
      assert.equal(await (await fetch(server.url, post)).text(), "ok");
      await until(() => server.closed === 1);
      await sleep(20);
      assert.equal(await (await fetch(server.url, post)).text(), "ok");
      assert.equal(server.connections, 2);
      assert.equal(server.requests.length, 2);
    } finally {
      await server.close();
    }
  });

  it("closes connections unused for longer than the idle time", async () => {
    const server = await rawServer((socket) =>
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    );
    const fetch = socketTransport({ idleMs: 300 });
    try {
      await Promise.all([0, 1, 2].map(async () => (await fetch(server.url, post)).text()));
      assert.equal(server.connections, 3);
      await until(() => server.closed === 3, 3000);
    } finally {
      await server.close();
    }
  });
});

describe("socket transport: aborts and backpressure", { skip: !onDeno }, () => {
  it("an abort before the answer rejects with AbortError and closes the connection", async () => {
    const server = await rawServer(() => {});
    try {
      const controller = new AbortController();
      const pending = socketTransport()(server.url, { ...post, signal: controller.signal });
      await until(() => server.requests.length === 1);
      controller.abort();
      await assert.rejects(pending, { name: "AbortError" });
      await until(() => server.closed === 1);
    } finally {
      await server.close();
    }
  });

  it("an abort mid-body fails the body and closes the connection", async () => {
    const server = await rawServer((socket) =>
      socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
    );
    try {
      const controller = new AbortController();
      const res = await socketTransport()(server.url, { ...post, signal: controller.signal });
      const reader = res.body!.getReader();
      assert.equal(new TextDecoder().decode((await reader.read()).value), "abc");
      controller.abort();
      await assert.rejects(reader.read(), { name: "AbortError" });
      await until(() => server.closed === 1);
    } finally {
      await server.close();
    }
  });

  it("a paused source reads nothing more until resumed, then delivers every byte", async () => {
    const size = 4 * 1024 * 1024;
    const server = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
      socket.write(Buffer.alloc(size, 97));
    });
    try {
      const res = await socketTransport()(server.url, post);
      const source = sourceOf(res.body!);
      let chunks = 0;
      let bytes = 0;
      const ended = new Promise<void>((resolve, reject) =>
        source.start({
          data(chunk) {
            chunks++;
            bytes += chunk.byteLength;
            if (chunks === 1) source.pause();
          },
          end: resolve,
          error: reject,
        })
      );
      await sleep(200);
      assert.equal(chunks, 1, "nothing delivered while paused");
      source.resume();
      await ended;
      assert.equal(bytes, size);
    } finally {
      await server.close();
    }
  });

  it("a cancelled body closes its connection", async () => {
    const server = await rawServer((socket) =>
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
    );
    try {
      const res = await socketTransport()(server.url, post);
      await res.body!.cancel();
      await until(() => server.closed === 1);
    } finally {
      await server.close();
    }
  });
});

describe("socket transport: TLS", { skip: !onDeno }, () => {
  const fixture = (name: string) =>
    readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url), "utf8");
  let server: https.Server;
  let base = "";
  let connections = 0;
  before(async () => {
    server = https.createServer(
      { key: fixture("localhost.key"), cert: fixture("localhost.pem") },
      (req, res) => {
        req.resume();
        req.on("end", () => {
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(`secure ${req.url}`);
        });
      },
    );
    server.on("secureConnection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `https://localhost:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("speaks HTTPS to a server whose certificate authority it is given, and keeps the connection", async () => {
    const fetch = socketTransport({ caCerts: [fixture("ca.pem")] });
    assert.equal(await (await fetch(`${base}/a`, post)).text(), "secure /a");
    assert.equal(await (await fetch(`${base}/b`, post)).text(), "secure /b");
    assert.equal(connections, 1);
  });

  it("refuses a certificate it cannot verify, and says so", async () => {
    const got = await failure(socketTransport()(`${base}/a`, post));
    assert.match(got.message, /certificate/i);
  });
});
