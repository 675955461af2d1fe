import type { SharedCounter } from '@hookhub/core';

/**
 * A webhook's `max_per_second`, kept by the delivery workers over every process (its `max_in_flight` is kept
 * by the claim statement). `tryStart` says whether a delivery to a webhook may start now and records it in the
 * shared counter: at most `maxPerSecond` starts in any second, whichever worker starts them. When it may
 * not, `waitMs` says how long until a slot of the last second frees.
 *
 * While the shared store is unreachable the counter counts in this process (with a warning), so deliveries
 * go on at up to the limit per process rather than stopping: none is lost or held back indefinitely.
 */
export class WebhookLimiter {
  constructor(private readonly counter: SharedCounter) {}

  async tryStart(webhookId: string, maxPerSecond: number): Promise<{ ok: true } | { ok: false; waitMs: number }> {
    const hit = await this.counter.hit(`webhook-starts:${webhookId}`, 1000, maxPerSecond);
    // A whole ms at least: a wait of a fraction would have the delivery claimed again before the slot frees.
    return hit.allowed ? { ok: true } : { ok: false, waitMs: Math.max(1, Math.ceil(hit.retryAfterMs)) };
  }
}
