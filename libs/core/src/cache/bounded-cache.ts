export interface BoundedCacheOptions {
  /** Entries kept at most; the least recently used one goes first. */
  maxEntries: number;
  /** How long an entry is served after it was set; none = until evicted or deleted. */
  ttlMs?: number;
  /** Milliseconds now (the service's clock), for the TTL. */
  now?: () => number;
}

/**
 * A small in-process cache with a size bound (least recently used out first) and an optional time to live.
 * The hub keeps compiled sources, programs, validators, filters and opened webhook secrets in these, so
 * a flood of distinct keys costs a bounded amount of memory.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();
  private readonly now: () => number;

  constructor(private readonly options: BoundedCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1)
      throw new RangeError('maxEntries must be a positive integer');
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, if present and fresh; a hit makes it the most recently used. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.options.ttlMs !== undefined && this.now() - entry.at >= this.options.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, { value, at: this.now() });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    return this;
  }

  /** The cached value, or `create()`'s, stored. */
  getOrSet(key: K, create: () => V): V {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = create();
    this.set(key, value);
    return value;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
