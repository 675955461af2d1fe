import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Users, API keys, the audit log and the generic job queue. */
export class Foundation1763900000000 implements MigrationInterface {
  name = 'Foundation1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        username text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        disabled boolean NOT NULL DEFAULT false,
        password_changed_at timestamptz(3) NOT NULL DEFAULT now(),
        last_login_at timestamptz(3),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX uq_users_username ON users (lower(username))`);
    await q.query(`CREATE INDEX idx_users_created ON users (created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        prefix text NOT NULL,
        key_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        scopes text[] NOT NULL DEFAULT '{}',
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        expires_at timestamptz(3),
        last_used_at timestamptz(3),
        last_used_ip text,
        revoked_at timestamptz(3),
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX uq_api_keys_prefix ON api_keys (prefix)`);
    await q.query(`CREATE INDEX idx_api_keys_user_created ON api_keys (user_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_api_keys_created ON api_keys (created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE audit_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        actor_type text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'anonymous')),
        actor_id uuid,
        actor_name text,
        action text NOT NULL,
        target_type text,
        target_id text,
        outcome text NOT NULL DEFAULT 'success' CHECK (outcome IN ('success', 'failure')),
        details jsonb NOT NULL DEFAULT '{}',
        ip text,
        user_agent text,
        request_id text,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_audit_created ON audit_log (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_audit_actor_created ON audit_log (actor_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_audit_action_created ON audit_log (action, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_audit_target ON audit_log (target_type, target_id, created_at DESC)`);

    await q.query(`
      CREATE TABLE queue_jobs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        queue text NOT NULL,
        payload jsonb NOT NULL DEFAULT '{}',
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
        run_at timestamptz(3) NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 10,
        locked_by text,
        locked_until timestamptz(3),
        last_error text,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now(),
        finished_at timestamptz(3)
      )`);
    await q.query(`CREATE INDEX idx_queue_jobs_due ON queue_jobs (queue, run_at, id) WHERE status = 'queued'`);
    await q.query(`CREATE INDEX idx_queue_jobs_lease ON queue_jobs (queue, locked_until) WHERE status = 'running'`);
    await q.query(`CREATE INDEX idx_queue_jobs_finished ON queue_jobs (finished_at) WHERE finished_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE queue_jobs`);
    await q.query(`DROP TABLE audit_log`);
    await q.query(`DROP TABLE api_keys`);
    await q.query(`DROP TABLE users`);
  }
}
