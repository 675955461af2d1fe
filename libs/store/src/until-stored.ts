import { isStoreUnavailable } from '@hookhub/core';

export interface UntilStoredOptions {
  /** What is being written, for the log line: `the outcome of task 1234`. */
  what: string;
  /** Called once when the store is found down, with the error. */
  onDown?: (err: unknown) => void;
  /** Called once when the write went through after the store came back. */
  onBack?: (waitedMs: number) => void;
  /** Stop retrying (the error is thrown) once this answers true, e.g. the process is past its shutdown deadline. */
  giveUp?: () => boolean;
  /** First and longest wait between tries (default 200 ms and 2 s). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs a write that must not be lost while the process lives (a finished task's outcome, a delivery
 * attempt), retrying it for as long as the store is unreachable or restarting. Any other error is thrown
 * at once. The write must be idempotent under its lease: a retry after a commit whose answer was lost
 * finds its row already written and changes nothing.
 */
export async function untilStored<T>(write: () => Promise<T>, options: UntilStoredOptions): Promise<T> {
  const min = options.minDelayMs ?? 200;
  const max = options.maxDelayMs ?? 2000;
  let delay = min;
  let downSince: number | null = null;
  for (;;) {
    try {
      const result = await write();
      if (downSince !== null) options.onBack?.(Date.now() - downSince);
      return result;
    } catch (err) {
      if (!isStoreUnavailable(err) || options.giveUp?.()) throw err;
      if (downSince === null) {
        downSince = Date.now();
        options.onDown?.(err);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(max, delay * 2);
    }
  }
}
