import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The formats the CHECK constraint listed, for the revert. */
const FORMATS_BEFORE = ['standard-webhooks', 'github', 'hmac-hex'];

/**
 * Signature formats come from the signer registry (libs/outbound/src/signing/signing.ts), checked by the API's
 * validation: the CHECK constraint that listed them again is dropped, so adding a format needs no migration.
 * (Verification schemes never had one.) Reverting restores the constraint; it is refused while a webhook
 * uses a format added since.
 */
export class FormatsFromRegistry1764400000000 implements MigrationInterface {
  name = 'FormatsFromRegistry1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_signature_format_check`);
  }

  async down(q: QueryRunner): Promise<void> {
    const list = FORMATS_BEFORE.map((f) => `'${f}'`).join(', ');
    await q.query(
      `ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_signature_format_check CHECK (signature_format IN (${list}))`,
    );
  }
}
