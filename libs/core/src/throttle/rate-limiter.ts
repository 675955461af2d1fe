import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { createClient } from 'redis';

export interface RateLimitResult {
  allowed: boolean;
  /** Hits counted in the current window, this one included. */
  count: number;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (for Retry-After). */
  retryAfterSeconds: number;
}

/** Counts hits per key in fixed windows. */
export interface RateLimitStore {
  hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
  close(): Promise<void>;
}

/** One process's counters; the default without REDIS_URL. Expired windows are swept as they are met. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private lastSweep = Date.now();

  async hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    const now = Date.now();
    if (now - this.lastSweep > 60_000) this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count += 1;
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }

  async close(): Promise<void> {
    this.windows.clear();
  }
}

const REDIS_HIT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
`;

/**
 * Counters in Redis (one atomic script per hit), so limits hold across every Hookhub instance. It connects in
 * the background and reconnects by itself; while it is not connected, `hit` fails at once instead of
 * queueing, and {@link RateLimiter} counts in memory meanwhile.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly logger = new Logger('RateLimit');
  private readonly client: ReturnType<typeof createClient>;
  private lastError = '';

  constructor(
    url: string,
    private readonly prefix = 'hookhub:rl:',
  ) {
    this.client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 + retries * 200, 5000) },
    });
    this.client.on('error', (err: Error) => {
      // One line per distinct error, not one per reconnect attempt.
      if (err.message !== this.lastError) this.logger.warn(`redis: ${err.message}`);
      this.lastError = err.message;
    });
    this.client.on('ready', () => (this.lastError = ''));
    this.client.connect().catch(() => undefined);
  }

  get ready(): boolean {
    return this.client.isReady;
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    if (!this.client.isReady) throw new Error('Redis is not connected');
    const reply = (await this.client.eval(REDIS_HIT, { keys: [this.prefix + key], arguments: [String(windowMs)] })) as number[];
    return { count: Number(reply[0]), resetInMs: Number(reply[1]) };
  }

  async close(): Promise<void> {
    if (this.client.isReady) await this.client.quit().catch(() => undefined);
    else this.client.destroy();
  }
}

/** Fixed-window rate limiting over a {@link RateLimitStore} (memory, or Redis when REDIS_URL is set). */
@Injectable()
export class RateLimiter implements OnModuleDestroy {
  private readonly logger = new Logger('RateLimit');
  /** Counts while the shared store is unreachable, so limits still hold per process. */
  private readonly fallback = new MemoryRateLimitStore();
  private degraded = false;

  constructor(private readonly store: RateLimitStore) {}

  async consume(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    let hit: { count: number; resetInMs: number };
    try {
      hit = await this.store.hit(key, windowMs);
      this.degraded = false;
    } catch (err) {
      if (!this.degraded) this.logger.warn(`rate-limit store unavailable (${(err as Error).message}); counting in this process until it is back`);
      this.degraded = true;
      hit = await this.fallback.hit(key, windowMs);
    }
    const { count, resetInMs } = hit;
    return {
      allowed: count <= limit,
      count,
      limit,
      remaining: Math.max(0, limit - count),
      retryAfterSeconds: Math.max(1, Math.ceil(resetInMs / 1000)),
    };
  }

  async onModuleDestroy(): Promise<void> {
    await this.store.close();
    await this.fallback.close();
  }
}
