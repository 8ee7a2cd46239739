/**
 * Resolves on the event loop's next check phase (setImmediate), after the I/O
 * that is ready now has been handled. Background work that would otherwise run
 * for tens of milliseconds without a break (the usage recorder's flush:
 * src/enforcement/usage-rollups.repository.ts) awaits it between slices, so a
 * verification that arrived meanwhile is answered after one slice, not after
 * the whole of it.
 */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
