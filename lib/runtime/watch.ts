/**
 * Calls back when a file changes. Watches the file's directory, not the file: editors save by
 * writing a new file and renaming it over the old one, which ends a watch on the file itself.
 * node:fs `watch` works the same under Deno and Bun. Changes within `settleMs` are one call.
 */
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";

export function watchFile(path: string, onChange: () => void, settleMs = 150): () => void {
  const full = resolve(path);
  const name = basename(full);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(full), (_event, filename) => {
      if (filename !== null && String(filename) !== name) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, settleMs);
    });
    // A watch must not keep the process alive at shutdown.
    watcher.unref?.();
  } catch {
    // No file watching here (some containers): SIGHUP still reloads.
    return () => {};
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
