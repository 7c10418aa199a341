/**
 * Calls `start` as an async function would, a synchronous throw becoming a rejection, without an
 * async function's promise: a promise `start` returns comes back as it is (in Temporal's sandbox
 * each promise costs the worker a stack trace).
 */
export function callAsync<T>(start: () => T | PromiseLike<T>): Promise<T> {
  try {
    return Promise.resolve(start());
  } catch (error) {
    return Promise.reject(error);
  }
}
