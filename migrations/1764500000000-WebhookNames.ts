import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Old name -> new name, per kind of object; down() applies them the other way round. */
const TABLES: ReadonlyArray<[string, string]> = [['subscriptions', 'webhooks']];
const COLUMNS: ReadonlyArray<[table: string, from: string, to: string]> = [
  ['deliveries', 'subscription_id', 'webhook_id'],
  ['delivery_attempts', 'subscription_id', 'webhook_id'],
];
/** Constraints, by the table they are on once renamed (a primary key's rename renames its index too). */
const CONSTRAINTS: ReadonlyArray<[table: string, from: string, to: string]> = [
  ['webhooks', 'subscriptions_pkey', 'webhooks_pkey'],
  ['webhooks', 'subscriptions_timeout_ms_check', 'webhooks_timeout_ms_check'],
  ['webhooks', 'subscriptions_max_in_flight_check', 'webhooks_max_in_flight_check'],
  ['webhooks', 'subscriptions_max_per_second_check', 'webhooks_max_per_second_check'],
  ['webhooks', 'subscriptions_body_format_check', 'webhooks_body_format_check'],
  ['deliveries', 'deliveries_subscription_id_fkey', 'deliveries_webhook_id_fkey'],
  ['delivery_attempts', 'delivery_attempts_subscription_id_fkey', 'delivery_attempts_webhook_id_fkey'],
];
const INDEXES: ReadonlyArray<[string, string]> = [
  ['idx_subscriptions_created', 'idx_webhooks_created'],
  ['idx_subscriptions_filters', 'idx_webhooks_filters'],
  ['idx_deliveries_subscription_created', 'idx_deliveries_webhook_created'],
  ['idx_delivery_attempts_subscription_created', 'idx_delivery_attempts_webhook_created'],
];

/**
 * One name per idea: the API says *webhook*, so the store does too. Renames the `subscriptions` table, the
 * `subscription_id` columns that point at it, and the constraints and indexes named after it. Only names
 * change (no rows are rewritten, uuids need no sequence); reverting renames everything back.
 */
export class WebhookNames1764500000000 implements MigrationInterface {
  name = 'WebhookNames1764500000000';

  async up(q: QueryRunner): Promise<void> {
    for (const [from, to] of TABLES) await q.query(`ALTER TABLE ${from} RENAME TO ${to}`);
    for (const [table, from, to] of COLUMNS) await q.query(`ALTER TABLE ${table} RENAME COLUMN ${from} TO ${to}`);
    for (const [table, from, to] of CONSTRAINTS)
      await q.query(`ALTER TABLE ${table} RENAME CONSTRAINT ${from} TO ${to}`);
    for (const [from, to] of INDEXES) await q.query(`ALTER INDEX ${from} RENAME TO ${to}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [from, to] of INDEXES) await q.query(`ALTER INDEX ${to} RENAME TO ${from}`);
    for (const [table, from, to] of CONSTRAINTS)
      await q.query(`ALTER TABLE ${table} RENAME CONSTRAINT ${to} TO ${from}`);
    for (const [table, from, to] of COLUMNS) await q.query(`ALTER TABLE ${table} RENAME COLUMN ${to} TO ${from}`);
    for (const [from, to] of TABLES) await q.query(`ALTER TABLE ${to} RENAME TO ${from}`);
  }
}
