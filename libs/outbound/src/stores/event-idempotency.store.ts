import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Db } from '@hookhub/store';

/** The event a key was first published with. */
export interface FirstPublish {
  id: string;
  type: string;
  deliveryCount: number;
}

/** The `event_idempotency` table: which event an idempotency key published, until the key expires. The only code with SQL for it. */
@Injectable()
export class EventIdempotencyStore {
  constructor(private readonly db: Db) {}

  /**
   * Takes `key` for `eventId` for `windowSeconds` (or takes it over, when it expired); false when the key is
   * held by an earlier publish.
   */
  async claim(key: string, eventId: string, windowSeconds: number, m?: EntityManager): Promise<boolean> {
    const claimed = await this.db.rows<{ event_id: string }>(
      `INSERT INTO event_idempotency (key, event_id, expires_at) VALUES ($1, $2, now() + ($3::int * interval '1 second'))
       ON CONFLICT (key) DO UPDATE SET event_id = EXCLUDED.event_id, expires_at = EXCLUDED.expires_at
         WHERE event_idempotency.expires_at <= now()
       RETURNING event_id`,
      [key, eventId, windowSeconds],
      m,
    );
    return claimed.length > 0;
  }

  /** The event the key's holder published, if it still exists. */
  async firstPublish(key: string, m?: EntityManager): Promise<FirstPublish | undefined> {
    const first = await this.db.one<{ id: string; type: string; delivery_count: number }>(
      `SELECT e.id, e.type, e.delivery_count FROM event_idempotency k JOIN events e ON e.id = k.event_id WHERE k.key = $1`,
      [key],
      m,
    );
    return first && { id: first.id, type: first.type, deliveryCount: first.delivery_count };
  }

  /** Deletes up to `limit` keys that expired before `now`; how many. */
  deleteExpired(now: Date, limit: number): Promise<number> {
    return this.db.exec(
      `DELETE FROM event_idempotency WHERE key IN (SELECT key FROM event_idempotency WHERE expires_at < $1 LIMIT $2)`,
      [now, limit],
    );
  }
}
