import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Adoption (issue 15): a source's extra exact paths (`aliases`, e.g. `/backup`), which old senders keep
 * posting to, and how it answers them (`answer`: status codes, a body template and the error style). A GIN
 * index finds the source that already holds an alias when another is saved.
 */
export class SourceAnswers1765000000000 implements MigrationInterface {
  name = 'SourceAnswers1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sources ADD COLUMN aliases text[] NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE sources ADD COLUMN answer jsonb`);
    await q.query(`CREATE INDEX idx_sources_aliases ON sources USING gin (aliases)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idx_sources_aliases`);
    await q.query(`ALTER TABLE sources DROP COLUMN answer`);
    await q.query(`ALTER TABLE sources DROP COLUMN aliases`);
  }
}
