/**
 * Makes `call` unless `signal` has aborted, and stops waiting for it when `signal` aborts,
 * rejecting with its reason. For calls through the worker's native connection, which ignores
 * abort signals: the abandoned call ends by its own deadline, and its outcome is dropped.
 */
export function abandonOnAbort<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  if (!signal) return call();
  if (signal.aborted) return Promise.reject(signal.reason);
  const answer = call();
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    answer.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}
