/**
 * Whether an upstream answered with server-sent events. Media types are case-insensitive
 * (RFC 9110 §8.3.1): `TEXT/EVENT-STREAM` is a stream too.
 */
export function answersWithEvents(response: Response): boolean {
  return /text\/event-stream/i.test(response.headers.get("content-type") ?? "");
}
