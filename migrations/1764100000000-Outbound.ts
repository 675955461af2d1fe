import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outbound webhooks: event types, events with their idempotency window, subscriptions, deliveries (the
 * delivery queue: one row per event x subscription) and delivery attempts (the logs the stats come from).
 */
export class Outbound1764100000000 implements MigrationInterface {
  name = 'Outbound1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_types (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        schema jsonb,
        archived boolean NOT NULL DEFAULT false,
        builtin boolean NOT NULL DEFAULT false,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX uq_event_types_name ON event_types (lower(name))`);
    await q.query(`CREATE INDEX idx_event_types_created ON event_types (created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE events (
        id uuid PRIMARY KEY,
        type text NOT NULL,
        body text NOT NULL,
        bytes int NOT NULL,
        occurred_at timestamptz(3) NOT NULL,
        idempotency_key text,
        published_by text,
        delivery_count int NOT NULL DEFAULT 0,
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_events_created ON events (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_events_type_created ON events (lower(type), created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE event_idempotency (
        key text PRIMARY KEY,
        event_id uuid NOT NULL,
        expires_at timestamptz(3) NOT NULL
      )`);
    await q.query(`CREATE INDEX idx_event_idempotency_expires ON event_idempotency (expires_at)`);

    await q.query(`
      CREATE TABLE subscriptions (
        id uuid PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        url text NOT NULL,
        event_filters text[] NOT NULL,
        payload_filter jsonb,
        headers jsonb NOT NULL DEFAULT '{}',
        timeout_ms int NOT NULL DEFAULT 15000 CHECK (timeout_ms > 0),
        retry_schedule real[],
        max_in_flight int CHECK (max_in_flight IS NULL OR max_in_flight > 0),
        max_per_second int CHECK (max_per_second IS NULL OR max_per_second > 0),
        signature_format text NOT NULL DEFAULT 'standard-webhooks'
          CHECK (signature_format IN ('standard-webhooks', 'github', 'hmac-hex')),
        signature_options jsonb NOT NULL DEFAULT '{}',
        body_format text NOT NULL DEFAULT 'compact' CHECK (body_format IN ('compact', 'sorted')),
        secrets jsonb NOT NULL DEFAULT '[]',
        enabled boolean NOT NULL DEFAULT true,
        disabled_reason text,
        disabled_at timestamptz(3),
        last_error text,
        last_error_at timestamptz(3),
        last_success_at timestamptz(3),
        failing_since timestamptz(3),
        created_by text,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_subscriptions_created ON subscriptions (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_subscriptions_filters ON subscriptions USING gin (event_filters) WHERE enabled`);

    await q.query(`
      CREATE TABLE deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
        event_type text NOT NULL,
        status text NOT NULL DEFAULT 'queued'
          CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
        trigger text NOT NULL DEFAULT 'auto' CHECK (trigger IN ('auto', 'test', 'manual', 'recover')),
        run_at timestamptz(3) NOT NULL DEFAULT now(),
        attempts int NOT NULL DEFAULT 0,
        retry_base int NOT NULL DEFAULT 0,
        locked_by text,
        locked_until timestamptz(3),
        last_error text,
        last_status int,
        finished_at timestamptz(3),
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_deliveries_due ON deliveries (run_at, id) WHERE status IN ('queued', 'running')`);
    await q.query(`CREATE INDEX idx_deliveries_running ON deliveries (subscription_id) WHERE status = 'running'`);
    await q.query(
      `CREATE INDEX idx_deliveries_subscription_created ON deliveries (subscription_id, created_at DESC, id DESC)`,
    );
    await q.query(`CREATE INDEX idx_deliveries_event ON deliveries (event_id)`);

    await q.query(`
      CREATE TABLE delivery_attempts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        event_id uuid NOT NULL,
        subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
        event_type text NOT NULL,
        attempt int NOT NULL,
        trigger text NOT NULL,
        url text NOT NULL,
        request_headers jsonb NOT NULL DEFAULT '{}',
        status_code int,
        success boolean NOT NULL,
        response_headers jsonb NOT NULL DEFAULT '{}',
        response_body text NOT NULL DEFAULT '',
        response_truncated boolean NOT NULL DEFAULT false,
        duration_ms int NOT NULL,
        error text,
        error_kind text,
        next_attempt_at timestamptz(3),
        created_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX idx_delivery_attempts_subscription_created ON delivery_attempts (subscription_id, created_at DESC, id DESC)`,
    );
    await q.query(`CREATE INDEX idx_delivery_attempts_created ON delivery_attempts (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX idx_delivery_attempts_delivery ON delivery_attempts (delivery_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'delivery_attempts',
      'deliveries',
      'subscriptions',
      'event_idempotency',
      'events',
      'event_types',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
