import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Header names every verifier reads a credential from with its default options, as of this migration. The
 * receipts stored before it kept some of them in clear (an `hmac` source's `X-Signature`); they are
 * redacted here, together with the header each source names in `verification.header`.
 */
const CREDENTIAL_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'x-hub-signature-256',
  'x-hub-signature',
  'x-gitlab-token',
  'stripe-signature',
  'x-slack-signature',
  'x-shopify-hmac-sha256',
  'webhook-signature',
  'x-signature',
];

/**
 * Hardening:
 * - receipts no longer hold any credential header in clear (a signature in a receipt could be replayed);
 * - sources choose what de-duplicates a request: its delivery id (as before) or the digest of its body;
 * - program env values and webhook custom header values become sealed like other secrets. Rows written
 *   before this migration hold them in clear and are marked `*_sealed = false`; the hub seals them at boot
 *   (the master key is not available to SQL). Reverting keeps sealed values sealed: re-enter them after.
 */
export class Hardening1764200000000 implements MigrationInterface {
  name = 'Hardening1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `UPDATE receipts r SET headers = (
         SELECT jsonb_object_agg(h.key, CASE WHEN h.key = ANY(n.names) THEN '"[redacted]"'::jsonb ELSE h.value END)
         FROM jsonb_each(r.headers) h
       )
       FROM (
         SELECT r2.id, $1::text[] || coalesce(array_remove(ARRAY[lower(s.verification->>'header')], NULL), '{}') AS names
         FROM receipts r2 LEFT JOIN sources s ON s.id = r2.source_id
       ) n
       WHERE n.id = r.id AND r.headers ?| n.names`,
      [CREDENTIAL_HEADERS],
    );

    await q.query(`ALTER TABLE sources ADD COLUMN dedup text NOT NULL DEFAULT 'delivery_id'`);
    await q.query(`ALTER TABLE sources ADD CONSTRAINT chk_sources_dedup CHECK (dedup IN ('delivery_id', 'body'))`);

    // Existing rows: false (values in clear, sealed at boot); new rows: true.
    await q.query(`ALTER TABLE programs ADD COLUMN env_sealed boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE programs ALTER COLUMN env_sealed SET DEFAULT true`);
    await q.query(`ALTER TABLE subscriptions ADD COLUMN headers_sealed boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE subscriptions ALTER COLUMN headers_sealed SET DEFAULT true`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE subscriptions DROP COLUMN headers_sealed`);
    await q.query(`ALTER TABLE programs DROP COLUMN env_sealed`);
    await q.query(`ALTER TABLE sources DROP CONSTRAINT chk_sources_dedup`);
    await q.query(`ALTER TABLE sources DROP COLUMN dedup`);
    // Redacted receipt headers cannot be restored.
  }
}
