/**
 * Loaded once per worker and shared by every workflow it runs (Temporal's `preloadModules`), so
 * that a run's first workflow task, or a replay after eviction, does not evaluate them again:
 * duragent's schemas and its whole workflow code (evaluating it took 1.8 ms of every run's first
 * task). Only modules that keep no state per run belong here: Temporal freezes what they export,
 * and the globals they set, once preloading is done, and a module-level variable would be one for
 * every run on the worker. Caches keyed by a run's own objects (WeakMaps) are fine.
 */
import { z } from "zod";
import * as chat from "../common/chat.js";
import * as llm from "../common/llm.js";
import * as mcpContext from "../common/mcp-context.js";
import * as messages from "../common/messages.js";
import * as runSettings from "../common/run-settings.js";
import * as runStatus from "../common/run-status.js";
import * as serverRequests from "../common/server-requests.js";
import * as tools from "../common/tools.js";
import * as transcriptReference from "../common/transcript-reference.js";
import * as usage from "../common/usage.js";
import * as builtinWorkflows from "./builtin-workflows.js";
import * as workflowApi from "./index.js";

// zod fills in its defaults (English messages, the parse memoizer) on first use, in a global that
// is frozen after this: use it once now, so that no workflow has to write there.
z.object({ warm: z.array(z.string()) }).safeParse({ warm: [1] });

/**
 * zod builds a schema's methods and derived internals on first read, as own properties: on a
 * frozen schema that read would throw. Read them all now, before Temporal freezes these modules.
 * Only schemas (and their `_zod` internals) are read so: a getter read on a prototype itself would
 * install its value there, for every schema of the kind.
 */
function materialize(value: unknown, seen = new Set<object>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  const internals = (value as { _zod?: unknown })._zod;
  if (Object.hasOwn(value, "_zod") && internals && typeof internals === "object") {
    readAccessors(value);
    readAccessors(internals);
    // A schema's first parse settles its parser in place (zod's memoizer takes itself back out of
    // a schema that cannot recurse): any input will do.
    try {
      (value as { safeParse?: (input: unknown) => unknown }).safeParse?.(undefined);
    } catch {
      // Async refinements refuse a synchronous parse; their parser is settled all the same.
    }
  }
  // Own accessors too: a bundled module's exports are getters.
  for (const key of Reflect.ownKeys(value)) {
    let member: unknown;
    try {
      member = (value as Record<string | symbol, unknown>)[key];
    } catch {
      continue;
    }
    materialize(member, seen);
  }
}

function readAccessors(target: object): void {
  for (let proto = Object.getPrototypeOf(target); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === "constructor" || !Object.getOwnPropertyDescriptor(proto, key)?.get) continue;
      try {
        (target as Record<string, unknown>)[key];
      } catch {
        // A member that cannot be read now is not read at run time either.
      }
    }
  }
}

declare const __webpack_modules__: Record<string, unknown> | undefined;

/**
 * The exports of every module loaded so far, when bundled: Temporal freezes them all, not only
 * those reachable from here (a module's own exported schema, say). Outside a bundle, none.
 */
function loadedModuleExports(): unknown[] {
  const cache = (globalThis as { __webpack_module_cache__?: Record<string, { exports?: unknown } | undefined> }).__webpack_module_cache__;
  if (typeof __webpack_modules__ !== "object" || !cache) return [];
  return Object.keys(__webpack_modules__).flatMap((id) => {
    const exports = cache[id]?.exports;
    return exports ? [exports] : [];
  });
}

const preloaded = loadedModuleExports();
// Twice: a recursive schema's internals resolve only once the rest of its graph has.
materialize(preloaded);
materialize(preloaded);

// Re-exported, not imported for effect: zod declares no side effects, so webpack would drop that.
export * from "zod";
export { chat, llm, mcpContext, messages, runSettings, runStatus, serverRequests, tools, transcriptReference, usage, builtinWorkflows, workflowApi };
