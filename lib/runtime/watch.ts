/**
 * Calls back when a file changes. Watches the file's directory, not the file: editors save by
 * writing a new file and renaming it over the old one, which ends a watch on the file itself.
 * node:fs `watch` works the same under Deno and Bun. Changes within `settleMs` are one call.
 *
 * A file reached through symlinks is followed too. Its target's directory is watched as well
 * (a dotfiles link: the edit happens there), and an event for any other name in a watched
 * directory counts when what the path leads to changed: a Kubernetes ConfigMap renames a new
 * `..data` symlink over the one that `cfg.jsonc -> ..data/cfg.jsonc` goes through, and that
 * event names `..data`, never the file.
 */
import { type FSWatcher, realpathSync, statSync, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";

/** Device, inode, size and modification time of the file the path leads to; "" if none. */
function identity(path: string): string {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return "";
  }
}

/** The directories to watch, each with the name in it that is the file: `dir\0name`. */
function places(full: string): Set<string> {
  const out = new Set([`${dirname(full)}\0${basename(full)}`]);
  try {
    const real = realpathSync(full);
    out.add(`${dirname(real)}\0${basename(real)}`);
  } catch {
    // A dangling link, or a file gone for now: its own directory tells when it is back.
  }
  return out;
}

export function watchFile(path: string, onChange: () => void, settleMs = 150): () => void {
  const full = resolve(path);
  const watchers = new Map<string, FSWatcher>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let named = false;
  let seen = identity(full);

  const settled = () => {
    timer = undefined;
    const now = identity(full);
    const changed = named || now !== seen;
    named = false;
    seen = now;
    follow();
    if (changed) onChange();
  };
  const onEvent = (name: string) => (_event: string, filename: string | Buffer | null) => {
    if (filename === null || String(filename) === name) {
      named = true;
      clearTimeout(timer);
    } else if (timer !== undefined) {
      // Other files' events do not push the timer back: a busy directory delays no reload.
      return;
    }
    timer = setTimeout(settled, settleMs);
  };
  /** Watches where the path leads now; throws if its own directory cannot be watched. */
  const follow = () => {
    const wanted = places(full);
    for (const [place, watcher] of watchers) {
      if (wanted.has(place)) continue;
      watcher.close();
      watchers.delete(place);
    }
    const own = `${dirname(full)}\0${basename(full)}`;
    for (const place of wanted) {
      if (watchers.has(place)) continue;
      const [dir = "", name = ""] = place.split("\0");
      try {
        const watcher = watch(dir, onEvent(name));
        // A watch must not keep the process alive at shutdown.
        watcher.unref?.();
        watchers.set(place, watcher);
      } catch (err) {
        if (place === own) throw err;
      }
    }
  };

  try {
    follow();
  } catch {
    // No file watching here (some containers): SIGHUP still reloads.
    for (const watcher of watchers.values()) watcher.close();
    return () => {};
  }
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers.values()) watcher.close();
    watchers.clear();
  };
}
