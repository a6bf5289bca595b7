/**
 * Deadlines for per-request timeouts on one runtime timer.
 *
 * Why: every request sets two or three timeouts (body read, whole request, first byte, a
 * stream's tick) and almost all of them are cancelled long before they fire. Deno 2 makes each
 * `setTimeout` a Node-style Timeout object (~3 KB with what it captures) that lives as long as
 * the request, so under load they were a visible part of what the garbage collector copies and
 * promotes. Here a deadline is one small entry in a binary heap, and one runtime timer is armed
 * for the earliest.
 */

export type Deadline = {
  /** Stops the callback from running; harmless after it ran or was cancelled. */
  cancel(): void;
};

class Entry implements Deadline {
  constructor(
    readonly at: number,
    readonly fn: () => void,
    /** Position in the heap; -1 once it ran or was cancelled. */
    public index: number,
  ) {}

  cancel(): void {
    remove(this);
  }
}

/** setTimeout's longest delay; a later deadline is re-armed for when this one fires. */
const MAX_DELAY = 2_147_483_647;

const heap: Entry[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;
/** When `timer` fires (it is armed for the earliest deadline at the time). */
let armedAt = Infinity;

function swap(i: number, j: number): void {
  const a = heap[i]!;
  const b = heap[j]!;
  heap[i] = b;
  heap[j] = a;
  a.index = j;
  b.index = i;
}

function up(i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.at <= heap[i]!.at) return;
    swap(i, parent);
    i = parent;
  }
}

function down(i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let min = i;
    if (l < heap.length && heap[l]!.at < heap[min]!.at) min = l;
    if (r < heap.length && heap[r]!.at < heap[min]!.at) min = r;
    if (min === i) return;
    swap(i, min);
    i = min;
  }
}

function remove(e: Entry): void {
  const i = e.index;
  if (i < 0) return;
  e.index = -1;
  const last = heap.pop()!;
  if (last !== e) {
    heap[i] = last;
    last.index = i;
    down(i);
    up(last.index);
  }
  // Nothing left to wait for: no timer may keep the process alive (a finished CLI command).
  if (heap.length === 0) disarm();
}

function disarm(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  armedAt = Infinity;
}

/** Arms the runtime timer for the earliest deadline, unless it already fires by then. */
function arm(): void {
  const first = heap[0];
  if (first === undefined) return disarm();
  if (timer !== undefined && armedAt <= first.at) return;
  if (timer !== undefined) clearTimeout(timer);
  const now = Date.now();
  const delay = Math.min(MAX_DELAY, Math.max(0, first.at - now));
  armedAt = now + delay;
  timer = setTimeout(fire, delay);
}

function fire(): void {
  timer = undefined;
  armedAt = Infinity;
  const now = Date.now();
  while (heap.length > 0 && heap[0]!.at <= now) {
    const e = heap[0]!;
    remove(e);
    try {
      e.fn();
    } catch (err) {
      // As a throwing timer callback would: reported, and the other deadlines still run.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
  arm();
}

/** Runs `fn` once, `ms` from now, unless cancelled first. */
export function after(ms: number, fn: () => void): Deadline {
  const e = new Entry(Date.now() + Math.max(0, ms), fn, heap.length);
  heap.push(e);
  up(e.index);
  if (heap[0] === e) arm();
  return e;
}

/** Deadlines waiting (for tests). */
export function pendingDeadlines(): number {
  return heap.length;
}
