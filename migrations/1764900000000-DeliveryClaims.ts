import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the delivery claim that goes webhook by webhook (see DeliveryStore): queued deliveries by
 * webhook in due order (it skips from one webhook to the next and reads each one's head, so a webhook's
 * backlog costs nothing to the others), and expired leases. They replace the one due index in run_at order,
 * which a claim had to read through a full webhook's whole backlog to find anyone else's delivery.
 */
export class DeliveryClaims1764900000000 implements MigrationInterface {
  name = 'DeliveryClaims1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX idx_deliveries_webhook_queue ON deliveries (webhook_id, run_at, id) WHERE status = 'queued'`,
    );
    await q.query(`CREATE INDEX idx_deliveries_lease ON deliveries (locked_until) WHERE status = 'running'`);
    await q.query(`DROP INDEX IF EXISTS idx_deliveries_due`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX idx_deliveries_due ON deliveries (run_at, id) WHERE status IN ('queued', 'running')`);
    await q.query(`DROP INDEX IF EXISTS idx_deliveries_lease`);
    await q.query(`DROP INDEX IF EXISTS idx_deliveries_webhook_queue`);
  }
}
