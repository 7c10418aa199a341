/**
 * Loaded once per worker and shared by every workflow it runs (Temporal's `preloadModules`), so
 * that a run's first workflow task, or a replay after eviction, does not evaluate zod again. Only
 * modules that keep no state per run belong here: Temporal freezes what they export, and the
 * globals they set, once preloading is done.
 */
import { z } from "zod";

// zod fills in its defaults (English messages, the parse memoizer) on first use, in a global that
// is frozen after this: use it once now, so that no workflow has to write there.
z.object({ warm: z.array(z.string()) }).safeParse({ warm: [1] });

// Re-exported, not imported for effect: zod declares no side effects, so webpack would drop that.
export * from "zod";
