/** Per-subscription sending limits: how many requests may be in flight at once, and how many start per second. */
export interface SubscriptionLimits {
  maxInFlight: number | null;
  maxPerSecond: number | null;
}

interface State {
  inFlight: number;
  /** Start times (ms) within the last second. */
  starts: number[];
}

/**
 * Admission for the delivery worker, so one slow or strict endpoint holds back only its own deliveries.
 * `tryStart` says whether a delivery to a subscription may start now (and records it); `finish` frees its
 * slot. When it may not, `waitMs` says how long until a per-second slot frees (0 when only in-flight is full).
 */
export class SubscriptionLimiter {
  private readonly states = new Map<string, State>();

  constructor(private readonly now: () => number = Date.now) {}

  tryStart(subscriptionId: string, limits: SubscriptionLimits): { ok: true } | { ok: false; waitMs: number } {
    const state = this.states.get(subscriptionId) ?? { inFlight: 0, starts: [] };
    const t = this.now();
    state.starts = state.starts.filter((s) => t - s < 1000);
    if (limits.maxInFlight !== null && state.inFlight >= limits.maxInFlight) return { ok: false, waitMs: 0 };
    if (limits.maxPerSecond !== null && state.starts.length >= limits.maxPerSecond) return { ok: false, waitMs: 1000 - (t - state.starts[0]) };
    state.inFlight++;
    state.starts.push(t);
    this.states.set(subscriptionId, state);
    return { ok: true };
  }

  finish(subscriptionId: string): void {
    const state = this.states.get(subscriptionId);
    if (!state) return;
    state.inFlight = Math.max(0, state.inFlight - 1);
    if (state.inFlight === 0 && state.starts.every((s) => this.now() - s >= 1000)) this.states.delete(subscriptionId);
  }

  inFlight(subscriptionId: string): number {
    return this.states.get(subscriptionId)?.inFlight ?? 0;
  }
}
