import { BoundedCache } from './bounded-cache';

describe('BoundedCache', () => {
  it('keeps at most maxEntries, dropping the least recently used first', () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 2 });
    cache.set('a', 1).set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recently used
    cache.set('c', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
  });

  it('setting an existing key replaces it without growing', () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 2 });
    cache.set('a', 1).set('a', 2).set('b', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBe(2);
  });

  it('serves an entry until its time to live has passed, by the given clock', () => {
    let now = 1_000;
    const cache = new BoundedCache<string, string>({ maxEntries: 10, ttlMs: 500, now: () => now });
    cache.set('k', 'v');
    now += 499;
    expect(cache.get('k')).toBe('v');
    now += 1;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('creates a missing value once with getOrSet', () => {
    const cache = new BoundedCache<string, object>({ maxEntries: 10 });
    let made = 0;
    const first = cache.getOrSet('k', () => ({ n: ++made }));
    const second = cache.getOrSet('k', () => ({ n: ++made }));
    expect(second).toBe(first);
    expect(made).toBe(1);
  });

  it('caches a null value (a known miss) but not undefined', () => {
    const cache = new BoundedCache<string, string | null>({ maxEntries: 10 });
    cache.set('unknown', null);
    expect(cache.get('unknown')).toBeNull();
    expect(cache.has('unknown')).toBe(true);
    expect(cache.has('never-set')).toBe(false);
  });

  it('deletes and clears', () => {
    const cache = new BoundedCache<number, number>({ maxEntries: 10 });
    cache.set(1, 1).set(2, 2);
    expect(cache.delete(1)).toBe(true);
    expect(cache.get(1)).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('refuses a size bound that is not a positive integer', () => {
    expect(() => new BoundedCache({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => new BoundedCache({ maxEntries: 1.5 })).toThrow(RangeError);
  });
});
