import { Logger, OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { createClient } from 'redis';

interface ThrottlerStorageRecord {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * Fixed-window counters in one atomic Lua script: increments the hit count, starts the window on the first
 * hit, and blocks the key for `blockDuration` once over the limit. Returns hits, ms left in the window,
 * blocked flag, ms left blocked.
 */
const SCRIPT = `
local hits_key = KEYS[1]
local block_key = KEYS[2]
local ttl = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local block = tonumber(ARGV[3])
local blocked_ttl = redis.call('PTTL', block_key)
if blocked_ttl > 0 then
  local h = tonumber(redis.call('GET', hits_key) or '0')
  return {h, math.max(redis.call('PTTL', hits_key), 0), 1, blocked_ttl}
end
local hits = redis.call('INCR', hits_key)
if hits == 1 then redis.call('PEXPIRE', hits_key, ttl) end
local left = redis.call('PTTL', hits_key)
if left < 0 then redis.call('PEXPIRE', hits_key, ttl); left = ttl end
if hits > limit then
  redis.call('SET', block_key, '1', 'PX', block)
  return {hits, left, 1, block}
end
return {hits, left, 0, 0}
`;

/** Throttler storage in Redis, so rate limits hold across every Hookhub instance. Used when REDIS_URL is set. */
export class RedisThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly logger = new Logger('Throttler');
  private readonly client: ReturnType<typeof createClient>;
  private connecting?: Promise<unknown>;

  constructor(url: string, private readonly prefix = 'hookhub:throttle:') {
    this.client = createClient({ url, socket: { reconnectStrategy: (retries) => Math.min(retries * 200, 5000) } });
    this.client.on('error', (err: Error) => this.logger.warn(`redis: ${err.message}`));
  }

  private async ready(): Promise<void> {
    if (this.client.isReady) return;
    this.connecting ??= this.client.connect();
    await this.connecting;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    await this.ready();
    const base = `${this.prefix}${throttlerName}:${key}`;
    const reply = (await this.client.eval(SCRIPT, {
      keys: [base, `${base}:blocked`],
      arguments: [String(ttl), String(limit), String(blockDuration > 0 ? blockDuration : ttl)],
    })) as number[];
    const [totalHits, timeToExpire, blocked, timeToBlockExpire] = reply.map(Number);
    return {
      totalHits,
      timeToExpire: Math.ceil(timeToExpire / 1000),
      isBlocked: blocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpire / 1000),
    };
  }

  async onModuleDestroy(): Promise<void> {
    if (this.client.isOpen) await this.client.quit().catch(() => undefined);
  }
}
