import { EventEmitter } from 'node:events';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';

export const QUEUE_CHANNEL = 'hookhub_queue';

/**
 * Wakes idle workers when work is enqueued. On a real Postgres this is LISTEN/NOTIFY, so workers in other
 * processes wake too; on the embedded store it is in-process. Workers also poll, so a lost wake-up only
 * costs one poll interval.
 */
export abstract class QueueNotifier {
  protected readonly events = new EventEmitter().setMaxListeners(0);

  /** Wakes the workers of `queue`. Call it after the transaction that enqueued the work has committed. */
  abstract notify(queue: string): Promise<void>;

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  /** Calls `listener` on every wake-up of `queue`; returns the unsubscribe function. */
  subscribe(queue: string, listener: () => void): () => void {
    this.events.on(queue, listener);
    return () => this.events.off(queue, listener);
  }
}

export class InProcessNotifier extends QueueNotifier {
  async notify(queue: string): Promise<void> {
    this.events.emit(queue);
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export interface PgNotifierLogger {
  warn(message: string): void;
}

/** LISTEN on a dedicated connection (reconnecting with backoff); NOTIFY through the pool. */
export class PostgresNotifier extends QueueNotifier {
  private client?: Client;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelayMs = 500;
  /** Per queue: the NOTIFY on its way, and the one that will follow it. */
  private readonly sending = new Map<string, Promise<void>>();
  private readonly following = new Map<string, Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly connectionString: string,
    private readonly ssl: boolean | object,
    private readonly logger?: PgNotifierLogger,
  ) {
    super();
  }

  /**
   * Local workers are woken at once, without the round trip through the server. The NOTIFY for other
   * processes is coalesced: while one is on its way, the wake-ups asked for meanwhile are sent together,
   * once, right after it (each caller's promise settles when a NOTIFY sent after its call has been).
   */
  notify(queue: string): Promise<void> {
    this.events.emit(queue);
    return this.send(queue);
  }

  private send(queue: string): Promise<void> {
    const following = this.following.get(queue);
    if (following) return following;
    const current = this.sending.get(queue);
    if (current) {
      const next = current
        .catch(() => undefined)
        .then(() => {
          this.following.delete(queue);
          return this.send(queue);
        });
      this.following.set(queue, next);
      return next;
    }
    const sent = this.dataSource
      .query('SELECT pg_notify($1, $2)', [QUEUE_CHANNEL, queue])
      .then(() => undefined)
      .finally(() => this.sending.delete(queue));
    this.sending.set(queue, sent);
    return sent;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.connectionString,
      ssl: this.ssl,
      application_name: 'hookhub-listen',
    });
    client.on('notification', (msg) => {
      if (msg.channel === QUEUE_CHANNEL && msg.payload) this.events.emit(msg.payload);
    });
    client.on('error', (err) => this.scheduleReconnect(err));
    client.on('end', () => this.scheduleReconnect(new Error('LISTEN connection ended')));
    await client.connect();
    await client.query(`LISTEN ${QUEUE_CHANNEL}`);
    this.client = client;
    this.reconnectDelayMs = 500;
  }

  private scheduleReconnect(err: Error): void {
    if (this.stopped || this.reconnectTimer) return;
    this.logger?.warn(`queue LISTEN connection lost (${err.message}); reconnecting in ${this.reconnectDelayMs} ms`);
    this.client = undefined;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((e: Error) => {
        this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 30_000);
        this.scheduleReconnect(e);
      });
      // Whatever was notified while disconnected is picked up by polling; wake everyone once now.
      for (const name of this.events.eventNames()) this.events.emit(name);
    }, this.reconnectDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}
