import { Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { AppConfig } from '../config/app-config';
import { RedisConnection } from './redis-connection';

/** What a hit answers: hits in the window, seconds to its end, whether blocked and for how many seconds more. */
export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** Whole seconds, rounded up (the record's times and Retry-After are in seconds). */
const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/**
 * Fixed windows kept in this process: the rate-limit store without REDIS_URL, and the fallback while Redis
 * is unreachable. The first hit of a key opens a window of `ttl` ms; the hit that goes over `limit` blocks
 * the key for `blockDuration` ms (the rest of the window when 0), and hits while blocked are refused
 * without being counted. O(1) per hit whatever the limit (the package's own storage keeps a timestamp per
 * hit and filters them all on each one); expired keys are swept as they are met.
 */
export class MemoryThrottlerStorage implements ThrottlerStorage {
  private readonly records = new Map<string, { hits: number; windowEndsAt: number; blockedUntil: number }>();
  private lastSweep = Date.now();

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    if (now - this.lastSweep > 60_000) this.sweep(now);
    const id = `${throttlerName}:${key}`;
    let record = this.records.get(id);
    if (record && record.blockedUntil > now) {
      const live = record.windowEndsAt > now;
      return {
        totalHits: live ? record.hits : 0,
        timeToExpire: seconds(record.windowEndsAt - now),
        isBlocked: true,
        timeToBlockExpire: seconds(record.blockedUntil - now),
      };
    }
    if (!record || record.windowEndsAt <= now) {
      record = { hits: 0, windowEndsAt: now + ttl, blockedUntil: 0 };
      this.records.set(id, record);
    }
    record.hits += 1;
    const left = record.windowEndsAt - now;
    if (record.hits <= limit)
      return { totalHits: record.hits, timeToExpire: seconds(left), isBlocked: false, timeToBlockExpire: 0 };
    const block = blockDuration > 0 ? blockDuration : left;
    record.blockedUntil = now + block;
    return { totalHits: record.hits, timeToExpire: seconds(left), isBlocked: true, timeToBlockExpire: seconds(block) };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [id, record] of this.records)
      if (record.windowEndsAt <= now && record.blockedUntil <= now) this.records.delete(id);
  }

  onModuleDestroy(): void {
    this.records.clear();
  }
}

/**
 * The same windows as {@link MemoryThrottlerStorage}, in Redis, in one atomic script per hit. KEYS[1] counts
 * the window's hits, KEYS[2] marks a block; ARGV is ttl ms, limit, block ms. Answers {hits, window ms left,
 * blocked (0/1), block ms left}.
 */
const INCREMENT_SCRIPT = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
  return {hits, math.max(redis.call('PTTL', KEYS[1]), 0), 1, blocked}
end
local hits = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
if hits <= tonumber(ARGV[2]) then return {hits, left, 0, 0} end
local block = tonumber(ARGV[3])
if block < 1 then block = left end
redis.call('SET', KEYS[2], '1', 'PX', block)
return {hits, left, 1, block}
`;

/**
 * Rate-limit counters in Redis (REDIS_URL), so limits hold across every Hookhub instance. The client connects
 * in the background and reconnects by itself; while Redis is not connected, or a hit fails, hits are counted
 * in this process instead (limits then hold per instance) rather than waiting or failing the request.
 */
export class RedisThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly logger = new Logger('RateLimit');
  private readonly redis: RedisConnection;
  private readonly fallback = new MemoryThrottlerStorage();
  private degraded = false;

  constructor(
    url: string,
    private readonly prefix = 'hookhub:rl:',
  ) {
    this.redis = new RedisConnection(url, this.logger);
  }

  /** Connected to Redis (hits are shared with the other instances). */
  get ready(): boolean {
    return this.redis.ready;
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    try {
      if (!this.redis.ready) throw new Error('Redis is not connected');
      // One hash tag for both keys: a Redis Cluster keeps them in one slot, as a script needs.
      const base = `${this.prefix}{${throttlerName}:${key}}`;
      const reply = (await this.redis.client.eval(INCREMENT_SCRIPT, {
        keys: [base, `${base}:blocked`],
        arguments: [String(ttl), String(limit), String(blockDuration)],
      })) as number[];
      if (this.degraded) this.logger.log('rate-limit counters are shared through Redis again');
      this.degraded = false;
      const [hits, left, blocked, blockLeft] = reply.map(Number);
      return {
        totalHits: hits,
        timeToExpire: seconds(left),
        isBlocked: blocked === 1,
        timeToBlockExpire: seconds(blockLeft),
      };
    } catch (err) {
      if (!this.degraded)
        this.logger.warn(
          `rate-limit store unavailable (${(err as Error).message}); counting in this process until it is back`,
        );
      this.degraded = true;
      return this.fallback.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.fallback.onModuleDestroy();
    await this.redis.close();
  }
}

/** The one rate-limit store of a process: Redis when REDIS_URL is set, this process's memory otherwise. */
export function createThrottlerStorage(config: Pick<AppConfig, 'redisUrl'>): ThrottlerStorage {
  return config.redisUrl ? new RedisThrottlerStorage(config.redisUrl) : new MemoryThrottlerStorage();
}
