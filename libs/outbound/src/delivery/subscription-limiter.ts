/**
 * A webhook's `max_per_second`, kept by the delivery worker (its `max_in_flight` is kept by the claim
 * statement, over all workers). `tryStart` says whether a delivery to a subscription may start now and
 * records it; when it may not, `waitMs` says how long until a slot of the last second frees.
 */
export class SubscriptionLimiter {
  /** Start times (ms) within the last second, per subscription. */
  private readonly starts = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  tryStart(subscriptionId: string, maxPerSecond: number): { ok: true } | { ok: false; waitMs: number } {
    const t = this.now();
    const recent = (this.starts.get(subscriptionId) ?? []).filter((s) => t - s < 1000);
    if (recent.length >= maxPerSecond) {
      this.starts.set(subscriptionId, recent);
      return { ok: false, waitMs: 1000 - (t - recent[0]) };
    }
    recent.push(t);
    this.starts.set(subscriptionId, recent);
    return { ok: true };
  }
}
