/**
 * Name patterns where `*` matches any run of characters, as in `allowedTools` and
 * `approvals.tools`. Compiled once; sandbox-safe, so workflow code and the worker share it.
 */
export function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  const regexes = patterns.map(
    (pattern) => new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`),
  );
  return (name) => regexes.some((regex) => regex.test(name));
}
