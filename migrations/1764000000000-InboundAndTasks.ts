import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Programs and task runs (the task queue), sources, rules, receipts and the de-duplication window. */
export class InboundAndTasks1764000000000 implements MigrationInterface {
  name = 'InboundAndTasks1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE programs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        number serial NOT NULL,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        command text NOT NULL,
        args jsonb NOT NULL DEFAULT '[]',
        cwd text,
        env_allow text[] NOT NULL DEFAULT '{}',
        env jsonb NOT NULL DEFAULT '{}',
        timeout_seconds int NOT NULL DEFAULT 600 CHECK (timeout_seconds > 0),
        output_cap_bytes int NOT NULL DEFAULT 262144 CHECK (output_cap_bytes > 0),
        concurrency_limit int CHECK (concurrency_limit IS NULL OR concurrency_limit > 0),
        concurrency_key text,
        concurrency_policy text NOT NULL DEFAULT 'queue' CHECK (concurrency_policy IN ('queue', 'drop', 'replace')),
        retry_max int NOT NULL DEFAULT 0 CHECK (retry_max >= 0),
        retry_backoff_seconds int NOT NULL DEFAULT 30 CHECK (retry_backoff_seconds >= 0),
        manual_run boolean NOT NULL DEFAULT true,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX uq_programs_name ON programs (lower(name))`);
    await q.query(`CREATE UNIQUE INDEX uq_programs_number ON programs (number)`);
    await q.query(`CREATE INDEX idx_programs_created ON programs (created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE sources (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug text NOT NULL,
        name text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        enabled boolean NOT NULL DEFAULT true,
        scheme text NOT NULL,
        verification jsonb NOT NULL DEFAULT '{}',
        secrets text[] NOT NULL DEFAULT '{}',
        ip_allow text[] NOT NULL DEFAULT '{}',
        rate_limit int NOT NULL DEFAULT 100 CHECK (rate_limit > 0),
        body_limit int NOT NULL DEFAULT 1048576 CHECK (body_limit > 0),
        methods text[] NOT NULL DEFAULT '{POST}',
        content_types text[] NOT NULL DEFAULT '{application/json}',
        replay_window_seconds int NOT NULL DEFAULT 300 CHECK (replay_window_seconds > 0),
        dedup_window_seconds int NOT NULL DEFAULT 86400 CHECK (dedup_window_seconds >= 0),
        dedup_header text,
        dedup_field text,
        event_header text,
        event_field text,
        response_mode text NOT NULL DEFAULT 'async' CHECK (response_mode IN ('async', 'sync')),
        sync_timeout_seconds int NOT NULL DEFAULT 30 CHECK (sync_timeout_seconds > 0),
        match_mode text NOT NULL DEFAULT 'first' CHECK (match_mode IN ('first', 'all')),
        dispatch text NOT NULL DEFAULT 'rules' CHECK (dispatch IN ('rules', 'by_id')),
        id_field text NOT NULL DEFAULT 'task_id',
        by_id_programs uuid[] NOT NULL DEFAULT '{}',
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX uq_sources_slug ON sources (slug)`);
    await q.query(`CREATE INDEX idx_sources_created ON sources (created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE rules (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        source_id uuid NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        position int NOT NULL DEFAULT 0,
        name text NOT NULL,
        condition jsonb NOT NULL DEFAULT 'true',
        program_id uuid NOT NULL REFERENCES programs (id) ON DELETE RESTRICT,
        args jsonb NOT NULL DEFAULT '[]',
        env jsonb NOT NULL DEFAULT '{}',
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_rules_source_position ON rules (source_id, position, created_at)`);
    await q.query(`CREATE INDEX idx_rules_program ON rules (program_id)`);

    await q.query(`
      CREATE TABLE receipts (
        id uuid PRIMARY KEY,
        source_id uuid REFERENCES sources (id) ON DELETE SET NULL,
        slug text NOT NULL,
        delivery_id text,
        method text NOT NULL,
        ip text,
        event text,
        verdict text NOT NULL CHECK (verdict IN ('accepted', 'unmatched', 'duplicate', 'rejected')),
        reason text,
        status_code int NOT NULL,
        headers jsonb NOT NULL DEFAULT '{}',
        body text,
        body_bytes int NOT NULL DEFAULT 0,
        body_truncated boolean NOT NULL DEFAULT false,
        matched_rules jsonb NOT NULL DEFAULT '[]',
        task_ids uuid[] NOT NULL DEFAULT '{}',
        duplicate_of uuid,
        duration_ms real NOT NULL DEFAULT 0,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_receipts_created ON receipts (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_receipts_source_created ON receipts (source_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_receipts_verdict_created ON receipts (verdict, created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE inbound_dedup (
        source_id uuid NOT NULL,
        delivery_id text NOT NULL,
        receipt_id uuid NOT NULL,
        expires_at timestamptz(3) NOT NULL,
        PRIMARY KEY (source_id, delivery_id)
      )`);
    await q.query(`CREATE INDEX idx_inbound_dedup_expires ON inbound_dedup (expires_at)`);

    await q.query(`
      CREATE TABLE task_runs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        program_id uuid REFERENCES programs (id) ON DELETE SET NULL,
        program_name text NOT NULL,
        trigger text NOT NULL CHECK (trigger IN ('receipt', 'manual', 'retry')),
        receipt_id uuid,
        source_id uuid,
        rule_id uuid,
        retry_of uuid,
        triggered_by text,
        attempt int NOT NULL DEFAULT 1,
        max_attempts int NOT NULL DEFAULT 1,
        argv jsonb NOT NULL DEFAULT '[]',
        env jsonb NOT NULL DEFAULT '{}',
        concurrency_key text,
        status text NOT NULL DEFAULT 'queued'
          CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'canceled')),
        run_at timestamptz(3) NOT NULL DEFAULT now(),
        attempts int NOT NULL DEFAULT 0,
        locked_by text,
        locked_until timestamptz(3),
        last_error text,
        cancel_requested_at timestamptz(3),
        started_at timestamptz(3),
        finished_at timestamptz(3),
        exit_code int,
        signal text,
        duration_ms int,
        stdout text NOT NULL DEFAULT '',
        stderr text NOT NULL DEFAULT '',
        stdout_bytes bigint NOT NULL DEFAULT 0,
        stderr_bytes bigint NOT NULL DEFAULT 0,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_task_runs_due ON task_runs (run_at, id) WHERE status IN ('queued', 'running')`);
    await q.query(`CREATE INDEX idx_task_runs_created ON task_runs (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_task_runs_program_created ON task_runs (program_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_task_runs_status_created ON task_runs (status, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX idx_task_runs_key_active ON task_runs (concurrency_key) WHERE status IN ('queued', 'running')`,
    );
    await q.query(`CREATE INDEX idx_task_runs_receipt ON task_runs (receipt_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['task_runs', 'inbound_dedup', 'receipts', 'rules', 'sources', 'programs']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
