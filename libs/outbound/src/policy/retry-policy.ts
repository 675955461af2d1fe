import type { SendResult } from '../net/http-sender';

/** Seconds before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts in all, over about 28 h). */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 36000];
/** Every scheduled wait is spread by this much either way, so a recovering receiver is not hit all at once. */
export const RETRY_JITTER = 0.2;
/** A receiver that is overloaded (429) or too slow (timeout) is left alone at least this long. */
export const BACKOFF_FLOOR_SECONDS = 60;
/** The longest `Retry-After` honoured; a longer one is cut to this. */
export const RETRY_AFTER_CAP_SECONDS = 24 * 3600;

export type RetryDecision =
  | { action: 'retry'; delaySeconds: number; why: string }
  | { action: 'give_up'; why: string }
  | { action: 'disable'; why: string };

/**
 * What to do after a failed attempt (`attempt` counts the attempts made so far, this one included):
 * a 410 disables the webhook; past the end of the schedule the delivery has failed; otherwise retry
 * after the scheduled wait (with jitter), the receiver's `Retry-After` when it sent one (capped at 24 h), and
 * never sooner than 60 s after a 429 or a timeout.
 */
export function retryDecision(
  result: SendResult,
  attempt: number,
  schedule: readonly number[] = DEFAULT_RETRY_SCHEDULE,
  random: () => number = Math.random,
): RetryDecision {
  if (result.status === 410) return { action: 'disable', why: 'the endpoint answered 410 Gone' };
  if (attempt > schedule.length) return { action: 'give_up', why: `no success after ${attempt} attempts` };
  const base = schedule[attempt - 1];
  let delay = base * (1 - RETRY_JITTER + random() * 2 * RETRY_JITTER);
  let why = `attempt ${attempt} failed; retry ${attempt + 1} of ${schedule.length + 1} as scheduled`;
  if (result.retryAfterSeconds !== null) {
    delay = Math.min(Math.max(result.retryAfterSeconds, 1), RETRY_AFTER_CAP_SECONDS);
    why = `the receiver asked to retry after ${result.retryAfterSeconds} s${result.retryAfterSeconds > RETRY_AFTER_CAP_SECONDS ? ' (capped at 24 h)' : ''}`;
  }
  if ((result.status === 429 || result.errorKind === 'timeout') && delay < BACKOFF_FLOOR_SECONDS) {
    delay = BACKOFF_FLOOR_SECONDS;
    why = `${result.status === 429 ? 'rate limited (429)' : 'timed out'}; waiting at least ${BACKOFF_FLOOR_SECONDS} s`;
  }
  return { action: 'retry', delaySeconds: Math.round(delay * 1000) / 1000, why };
}
