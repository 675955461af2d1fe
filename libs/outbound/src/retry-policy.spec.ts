import type { SendResult } from './net/http-sender';
import {
  BACKOFF_FLOOR_SECONDS,
  DEFAULT_RETRY_SCHEDULE,
  RETRY_AFTER_CAP_SECONDS,
  retryDecision,
} from './policy/retry-policy';

const failed = (over: Partial<SendResult> = {}): SendResult => ({
  ok: false,
  status: 500,
  headers: {},
  body: '',
  bodyTruncated: false,
  durationMs: 10,
  error: null,
  errorKind: null,
  retryAfterSeconds: null,
  ...over,
});
const mid = () => 0.5;

describe('retryDecision', () => {
  it('follows the default schedule 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then gives up', () => {
    expect(DEFAULT_RETRY_SCHEDULE.map((_, i) => retryDecision(failed(), i + 1, DEFAULT_RETRY_SCHEDULE, mid))).toEqual(
      [5, 300, 1800, 7200, 18000, 36000, 36000].map((delaySeconds) =>
        expect.objectContaining({ action: 'retry', delaySeconds }),
      ),
    );
    expect(retryDecision(failed(), 8, DEFAULT_RETRY_SCHEDULE, mid)).toEqual({
      action: 'give_up',
      why: 'no success after 8 attempts',
    });
  });

  it('spreads each wait by 20% either way', () => {
    expect(retryDecision(failed(), 2, DEFAULT_RETRY_SCHEDULE, () => 0)).toMatchObject({ delaySeconds: 240 });
    expect(retryDecision(failed(), 2, DEFAULT_RETRY_SCHEDULE, () => 0.999999)).toMatchObject({
      delaySeconds: expect.closeTo(360, 2),
    });
  });

  it('disables on 410 Gone at any attempt', () => {
    expect(retryDecision(failed({ status: 410 }), 1)).toEqual({
      action: 'disable',
      why: 'the endpoint answered 410 Gone',
    });
  });

  it('honours Retry-After within bounds, and waits at least 60 s after a 429 or a timeout', () => {
    expect(
      retryDecision(failed({ status: 503, retryAfterSeconds: 900 }), 1, DEFAULT_RETRY_SCHEDULE, mid),
    ).toMatchObject({ action: 'retry', delaySeconds: 900 });
    expect(
      retryDecision(failed({ status: 503, retryAfterSeconds: 10 ** 9 }), 1, DEFAULT_RETRY_SCHEDULE, mid),
    ).toMatchObject({ delaySeconds: RETRY_AFTER_CAP_SECONDS });
    expect(retryDecision(failed({ status: 429, retryAfterSeconds: 2 }), 1, DEFAULT_RETRY_SCHEDULE, mid)).toMatchObject({
      delaySeconds: BACKOFF_FLOOR_SECONDS,
    });
    expect(retryDecision(failed({ status: 429 }), 1, DEFAULT_RETRY_SCHEDULE, mid)).toMatchObject({
      delaySeconds: BACKOFF_FLOOR_SECONDS,
    });
    expect(retryDecision(failed({ status: null, errorKind: 'timeout' }), 1, DEFAULT_RETRY_SCHEDULE, mid)).toMatchObject(
      { delaySeconds: BACKOFF_FLOOR_SECONDS, why: expect.stringContaining('timed out') },
    );
    // A later scheduled wait already above the floor is kept.
    expect(retryDecision(failed({ status: 429 }), 3, DEFAULT_RETRY_SCHEDULE, mid)).toMatchObject({
      delaySeconds: 1800,
    });
  });

  it('uses a shortened schedule given by configuration', () => {
    expect(retryDecision(failed(), 1, [0.2, 0.2], mid)).toMatchObject({ action: 'retry', delaySeconds: 0.2 });
    expect(retryDecision(failed(), 3, [0.2, 0.2], mid)).toMatchObject({ action: 'give_up' });
  });
});
