/**
 * Watches a project's folder for changes to its code and config, as `duragent dev` needs to
 * restart its worker: one call per burst of changes (an editor's save writes several times).
 */
import { watch, type FSWatcher } from "node:fs";

/** Files whose change can change what a worker runs: code, its config, its package's settings. */
const watched = /\.(?:[cm]?[jt]sx?|json|ya?ml)$/;
/** Folders no change of the project's own is made in: installed packages, duragent's state, builds. */
const ignored = /(?:^|[\\/])(?:node_modules|\.duragent|\.git|dist)(?:[\\/]|$)/;

export interface ProjectWatch {
  close(): void;
}

/** Calls `changed` with a changed file's path (relative to `folder`) once a burst of changes has been quiet for `quietMs`. */
export function watchProject(folder: string, changed: (file: string) => void, quietMs = 300): ProjectWatch {
  let timer: NodeJS.Timeout | undefined;
  let latest: string | undefined;
  const watcher: FSWatcher = watch(folder, { recursive: true }, (_event, file) => {
    if (typeof file !== "string" || ignored.test(file) || !watched.test(file)) return;
    latest = file;
    clearTimeout(timer);
    timer = setTimeout(() => changed(latest!), quietMs);
  });
  // A folder that goes away ends the watch; dev goes on with the worker it has.
  watcher.on("error", () => watcher.close());
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
