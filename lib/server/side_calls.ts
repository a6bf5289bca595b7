/**
 * Claude Code's side calls: requests it makes to ANTHROPIC_BASE_URL besides the Messages API —
 * a connection warm-up, reachability checks, its bootstrap, telemetry. None of them needs an
 * upstream. Each gets the answer that lets the CLI carry on as it would with Anthropic's API
 * having nothing to report (observed with the CLI 2.1.197 and 2.1.332, see docs/claude-code.md),
 * and one debug log line instead of a request line or a 404 warning.
 */
import { json } from "./json_response.ts";

type SideCall = {
  methods: readonly string[];
  path: string;
  answer: () => Response;
};

const ok = () => json({});

const SIDE_CALLS: readonly SideCall[] = [
  // The warm-up before the first request: only the connection matters, the status is ignored.
  { methods: ["HEAD"], path: "/", answer: () => new Response(null, { status: 200 }) },
  // Reachability check (`claude doctor`, the warm-up when a base URL is set): any 2xx will do.
  { methods: ["GET", "HEAD"], path: "/api/hello", answer: () => json({ message: "hello" }) },
  {
    // Per-account extras (more models in the picker, prices, compaction windows). The CLI
    // validates the body, so it gets an answer that adds nothing rather than an error.
    methods: ["GET"],
    path: "/api/claude_cli/bootstrap",
    answer: () => json({ client_data: null, additional_model_options: [] }),
  },
  // Telemetry batches and metrics: accepted and dropped, nothing is forwarded anywhere.
  { methods: ["POST"], path: "/api/event_logging/batch", answer: ok },
  { methods: ["POST"], path: "/api/claude_code/metrics", answer: ok },
  {
    methods: ["GET"],
    path: "/api/claude_code/organizations/metrics_enabled",
    answer: () => json({ metrics_logging_enabled: false }),
  },
];

/**
 * The answer to a side call, or undefined when the request is not one. Its body, if any, is
 * discarded unread.
 */
export function sideCallResponse(req: Request, method: string, path: string): Response | undefined {
  const call = SIDE_CALLS.find((c) => c.path === path && c.methods.includes(method));
  if (!call) return undefined;
  // Nobody reads the body (telemetry batches): release it instead of leaving the connection
  // waiting on it. A failure here means the client has gone, which changes nothing.
  req.body?.cancel().catch(() => {});
  const res = call.answer();
  return method === "HEAD" ? new Response(null, { status: res.status, headers: res.headers }) : res;
}
