import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { type Page, containsPattern, paginate } from '@hookhub/core';
import { Db } from '@hookhub/store';
import type { ListWebhooksQueryDto } from '../dto/webhooks.dto';
import { type SealedSecret, Webhook } from '../entities/webhook.entity';
import { filterCandidates } from '../policy/event-filter';

/** What disabling a webhook changed: the row as it is now. */
export interface DisabledWebhook {
  id: string;
  name: string;
  url: string;
  disabled_at: Date;
}

/**
 * The `webhooks` table: CRUD, the list's filters, secret rotation and header sealing under a row lock, and
 * disabling. The only code with SQL for it.
 */
@Injectable()
export class WebhookStore {
  constructor(
    @InjectRepository(Webhook) private readonly webhooks: Repository<Webhook>,
    private readonly db: Db,
  ) {}

  async insert(values: Partial<Webhook>): Promise<void> {
    await this.webhooks.insert(this.webhooks.create(values as Webhook));
  }

  findById(id: string): Promise<Webhook | null> {
    return this.webhooks.findOneBy({ id });
  }

  async update(id: string, changes: Partial<Webhook>): Promise<void> {
    await this.webhooks.update({ id }, changes);
  }

  async delete(id: string): Promise<void> {
    await this.webhooks.delete({ id });
  }

  /** Enabled webhooks in a failing period (every attempt failed since `failing_since`), for /metrics. */
  async countFailing(): Promise<number> {
    const [row] = await this.db.rows<{ n: number }>(
      'SELECT count(*)::int AS n FROM webhooks WHERE enabled AND failing_since IS NOT NULL',
    );
    return row.n;
  }

  /** Enabled webhooks failing now, the longest failing first (at most `limit`), and how many there are in all. */
  async failingNow(limit: number): Promise<{ total: number; webhooks: Webhook[] }> {
    const [webhooks, total] = await this.webhooks
      .createQueryBuilder('s')
      .where('s.enabled AND s.failing_since IS NOT NULL')
      .orderBy('s.failing_since', 'ASC')
      .addOrderBy('s.id', 'ASC')
      .take(limit)
      .getManyAndCount();
    return { total, webhooks };
  }

  /** A page of webhooks, newest first: matching `q` in name, description or URL, enabled or not, accepting an event type. */
  page<R>(query: ListWebhooksQueryDto, map: (s: Webhook) => R): Promise<Page<R>> {
    const qb = this.webhooks.createQueryBuilder('s');
    if (query.q)
      qb.andWhere('(s.name ILIKE :q OR s.description ILIKE :q OR s.url ILIKE :q)', { q: containsPattern(query.q) });
    if (query.enabled !== undefined) qb.andWhere('s.enabled = :enabled', { enabled: query.enabled });
    if (query.event) qb.andWhere('s.event_filters && :candidates', { candidates: filterCandidates(query.event) });
    return paginate(qb, 's', query, map);
  }

  /**
   * Replaces the secrets of a webhook with `change(current)`, in one transaction with the row locked, so two
   * rotations at once cannot lose a secret. False when there is no such webhook.
   */
  updateSecrets(id: string, change: (secrets: SealedSecret[], id: string) => SealedSecret[]): Promise<boolean> {
    return this.db.transaction(async (m) => {
      const [row] = await this.db.rows<{ id: string; secrets: SealedSecret[] }>(
        `SELECT id, secrets FROM webhooks WHERE id = $1 FOR UPDATE`,
        [id],
        m,
      );
      if (!row) return false;
      await this.db.exec(
        `UPDATE webhooks SET secrets = $2, updated_at = now() WHERE id = $1`,
        [id, JSON.stringify(change(row.secrets, row.id))],
        m,
      );
      return true;
    });
  }

  /**
   * Seals the custom header values of rows written in clear by an earlier version (`headers_sealed = false`)
   * with `seal`, in one transaction (rows another process is sealing are skipped); how many rows.
   */
  sealClearHeaders(seal: (id: string, headers: Record<string, string>) => Record<string, string>): Promise<number> {
    return this.db.transaction(async (m) => {
      const rows = await this.db.rows<{ id: string; headers: Record<string, string> }>(
        `SELECT id, headers FROM webhooks WHERE NOT headers_sealed FOR UPDATE SKIP LOCKED`,
        [],
        m,
      );
      for (const row of rows) {
        await this.db.exec(
          `UPDATE webhooks SET headers = $2, headers_sealed = true, updated_at = now() WHERE id = $1`,
          [row.id, JSON.stringify(seal(row.id, row.headers))],
          m,
        );
      }
      return rows.length;
    });
  }

  /** Disables an enabled webhook with `reason`; undefined when it was not enabled (or does not exist). */
  disable(id: string, reason: string, m?: EntityManager): Promise<DisabledWebhook | undefined> {
    return this.db.one<DisabledWebhook>(
      `UPDATE webhooks SET enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
       WHERE id = $1 AND enabled RETURNING id, name, url, disabled_at`,
      [id, reason],
      m,
    );
  }
}
