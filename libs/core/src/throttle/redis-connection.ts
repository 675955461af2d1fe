import type { Logger } from '@nestjs/common';
import { createClient } from 'redis';

export type RedisClient = ReturnType<typeof createClient>;

/**
 * A Redis client for the shared counters (REDIS_URL): it connects in the background and reconnects by itself,
 * logs each distinct error once (not once per reconnect attempt), and never queues commands while
 * disconnected, so a caller learns at once that Redis is down and can count in its own process instead.
 */
export class RedisConnection {
  readonly client: RedisClient;
  private lastError = '';
  private closed = false;

  constructor(url: string, logger: Logger) {
    this.client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 + retries * 200, 5000) },
    });
    this.client.on('error', (err: Error) => {
      if (err.message !== this.lastError) logger.warn(`redis: ${err.message}`);
      this.lastError = err.message;
    });
    this.client.on('ready', () => {
      this.lastError = '';
      // Closed while it was still connecting: node-redis completes that connection anyway, and an open socket
      // would keep the process alive.
      if (this.closed) this.client.destroy();
    });
    this.client.connect().catch(() => undefined);
  }

  /** Connected to Redis. */
  get ready(): boolean {
    return this.client.isReady;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client.isReady) await this.client.close().catch(() => undefined);
    else this.client.destroy();
  }
}
