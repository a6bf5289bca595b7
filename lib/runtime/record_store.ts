/**
 * RECORD_DIR on disk, through node:fs (the same API under Deno and Bun). Imported only when
 * recording is on, so that a proxy without it never loads node:fs.
 */
import { mkdir, readdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

export type FileRecordStore = {
  /** Creates the directory; throws when it cannot be (reported at start-up). */
  prepare(): Promise<void>;
  usedBytes(): Promise<number>;
  write(name: string, text: string): Promise<void>;
};

export function fileRecordStore(dir: string): FileRecordStore {
  return {
    prepare: async () => {
      await mkdir(dir, { recursive: true });
    },
    async usedBytes() {
      let total = 0;
      for (const name of await readdir(dir)) {
        try {
          const info = await stat(join(dir, name));
          if (info.isFile()) total += info.size;
        } catch {
          // Removed meanwhile.
        }
      }
      return total;
    },
    async write(name, text) {
      // A reader (or a crash) never sees half a file: the whole text goes to a temporary name
      // in the same directory first, and a rename within one directory is atomic.
      const tmp = join(dir, `.${name}.partial`);
      await writeFile(tmp, text);
      await rename(tmp, join(dir, name));
    },
  };
}
