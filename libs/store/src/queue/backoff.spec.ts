import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, within the jitter band', () => {
    expect(backoffDelay(1, 1000, 60_000, 0.2, () => 0.5)).toBe(1000);
    expect(backoffDelay(3, 1000, 60_000, 0.2, () => 0.5)).toBe(4000);
    expect(backoffDelay(30, 1000, 60_000, 0.2, () => 0.5)).toBe(60_000);
    expect(backoffDelay(2, 1000, 60_000, 0.2, () => 0)).toBe(1600);
    expect(backoffDelay(2, 1000, 60_000, 0.2, () => 0.9999)).toBe(2400);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(4, 1000, 60_000);
      expect(d).toBeGreaterThanOrEqual(6400);
      expect(d).toBeLessThanOrEqual(9600);
    }
  });
});
