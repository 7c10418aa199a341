/**
 * A part of a run that is cancelled on its own, with the steps, waits and child runs started in
 * it: a fan-out whose first failed branch stops the others. On Temporal it is Temporal's own
 * cancellation scope. In memory the current scope must follow the run's code across awaits, which
 * takes Node's AsyncLocalStorage: the memory engine gives it, as workflow code imports nothing from
 * Node.
 */
import { CancellationScope as TemporalScope, inWorkflowContext } from "@temporalio/workflow";
import { CancellationScope } from "./retry.js";

/** What the memory engine keeps the current scope in (an `AsyncLocalStorage<CancellationScope>`). */
export interface ScopeStorage {
  run<R>(scope: CancellationScope, body: () => R): R;
  getStore(): CancellationScope | undefined;
}

// On the global object, so that two copies of duragent in one process (a CLI's, and a project's
// that its workflows import) keep one current scope; the scopes themselves are duck-typed.
const storageKey = Symbol.for("duragent.cancellationScopes");
const shared = globalThis as { [storageKey]?: ScopeStorage };

/** Given once, by the memory engine, before it runs anything. */
export function keepScopesIn(given: ScopeStorage): void {
  shared[storageKey] ??= given;
}

/** The scope the caller's code runs in, in memory; none outside a run (or no storage given). */
export function currentScope(): CancellationScope | undefined {
  return shared[storageKey]?.getStore();
}

/** Runs `body` in `scope`: what it starts, and what that starts, finds the scope current. */
export function inScope<R>(scope: CancellationScope, body: () => R): R {
  const storage = shared[storageKey];
  return storage ? storage.run(scope, body) : body();
}

export interface OwnScope {
  /** Cancels what runs in the scope, and not the run. */
  cancel(): void;
  readonly cancelled: boolean;
}

/**
 * Runs `body` in a scope of its own, inside the current one. Not an async function: on Temporal a
 * promise turn more would move the commands that follow, and recorded histories would not replay.
 */
export function cancellable<T>(body: (scope: OwnScope) => Promise<T>): Promise<T> {
  if (!inWorkflowContext()) return inMemoryScope(body);
  return TemporalScope.cancellable(() => {
    const scope = TemporalScope.current();
    return body({ cancel: () => scope.cancel(), get cancelled() { return scope.consideredCancelled; } });
  });
}

async function inMemoryScope<T>(body: (scope: OwnScope) => Promise<T>): Promise<T> {
  const scope = new CancellationScope(currentScope());
  try {
    return await inScope(scope, () => body({ cancel: () => void scope.cancel(), get cancelled() { return scope.cancelled; } }));
  } finally {
    scope.close();
  }
}

/**
 * Whether the scope the caller runs in was cancelled: the run, or a fan-out around this one. In
 * memory outside any scope (none kept), any cancellation was the run's, the only kind there was.
 */
export function currentScopeCancelled(): boolean {
  if (inWorkflowContext()) return TemporalScope.current().consideredCancelled;
  return currentScope()?.cancelled ?? true;
}
