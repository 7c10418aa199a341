/**
 * Stops waiting for `answer` when `signal` aborts, rejecting with its reason. For calls through
 * the worker's native connection, which ignores abort signals: the abandoned call ends by its
 * own deadline, and its outcome is dropped.
 */
export function abandonOnAbort<T>(answer: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return answer;
  if (signal.aborted) {
    answer.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    answer.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}
