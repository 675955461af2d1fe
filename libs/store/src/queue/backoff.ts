/**
 * Exponential backoff with full jitter bounds: attempt 1 waits about `baseMs`, doubling up to `maxMs`,
 * randomised by +-`jitter` (0..1). `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, jitter = 0.2, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const spread = exp * jitter;
  return Math.max(0, Math.round(exp - spread + random() * 2 * spread));
}
