/**
 * Polls `condition` until it holds, for state no event announces (a counter, a socket finishing its close).
 * Rejects after `timeoutMs`, naming `what`. Prefer awaiting an event where there is one.
 */
export async function waitFor(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
