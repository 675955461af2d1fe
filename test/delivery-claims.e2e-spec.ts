import { DataSource } from 'typeorm';
import { type DeliveryQueue, DeliveryStore } from '@hookhub/outbound';
import { QueueWorker } from '@hookhub/store';
import { type TestApp, bootApp } from './helpers/app';
import { create } from './helpers/inbound';
import { eventually } from './helpers/receiver';

/**
 * The delivery claim goes webhook by webhook: a webhook at its in-flight limit is skipped without reading its
 * backlog, so its backlog does not hold anyone else's deliveries, and the limit holds however many claim at
 * once. Workers are off: the test claims as the workers do.
 */
describe('delivery claims (e2e)', () => {
  let t: TestApp;
  let admin: string;
  let ds: DataSource;
  let queue: DeliveryQueue;
  let seq = 0;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_RUN_WORKERS: 'false', HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32' });
    admin = await t.login();
    ds = t.app.get(DataSource);
    queue = t.app.get(DeliveryStore).queue;
  });
  afterAll(() => t.close());

  // Each test starts with an empty queue.
  beforeEach(async () => {
    await ds.query(
      `UPDATE deliveries SET status = 'canceled', locked_by = NULL, locked_until = NULL, finished_at = now()
       WHERE status IN ('queued', 'running')`,
    );
  });

  /** A webhook (never sent to) with `count` queued deliveries of one event, written straight to the store. */
  const webhookWithBacklog = async (count: number, maxInFlight: number) => {
    const name = `w${++seq}`;
    const w = await create<{ id: string }>(t, admin, '/api/webhooks', {
      url: `http://127.0.0.1:9/${name}`,
      events: [`${name}.*`],
      max_in_flight: maxInFlight,
    });
    const published = await t.request<{ id: string }>({
      method: 'POST',
      url: '/api/events',
      token: admin,
      body: { type: `${name}.happened`, data: {} },
    });
    expect(published.json.id).toEqual(expect.any(String));
    await ds.query(
      `INSERT INTO deliveries (event_id, webhook_id, event_type, run_at)
       SELECT $1, $2, $3, now() - interval '1 hour' + n * interval '1 millisecond' FROM generate_series(1, $4) n`,
      [published.json.id, w.id, `${name}.happened`, count - 1],
    );
    return w.id;
  };
  const claimed = (rows: Array<{ webhook_id: string }>) => rows.map((r) => r.webhook_id);

  it("claims a quiet webhook's delivery behind another webhook's backlog at its limit", async () => {
    const noisy = await webhookWithBacklog(3000, 2);
    const quiet = await webhookWithBacklog(1, 10);
    // The quiet one's delivery is the newest of 3,001: every older one belongs to the noisy webhook.
    await ds.query(`UPDATE deliveries SET run_at = now() WHERE webhook_id = $1`, [quiet]);

    const first = claimed(await queue.claim('a', 4, 30_000));
    expect(first.filter((w) => w === noisy)).toHaveLength(2);
    expect(first.filter((w) => w === quiet)).toHaveLength(1);
    // The noisy webhook is at its limit: a claim finds nothing, without reading its 2,998 queued deliveries.
    expect(await queue.claim('b', 4, 30_000)).toEqual([]);
  });

  it('keeps each webhook within its in-flight limit when many claim at once, and shares a claim between webhooks', async () => {
    const limited = await webhookWithBacklog(200, 3);
    const others = [await webhookWithBacklog(50, 100), await webhookWithBacklog(50, 100)];
    const rows = (await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((w) => queue.claim(w, 8, 30_000)))).flat();
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    expect(rows.filter((r) => r.webhook_id === limited).length).toBeLessThanOrEqual(3);
    const [running] = (await ds.query(
      `SELECT count(*)::int AS n FROM deliveries WHERE webhook_id = $1 AND status = 'running'`,
      [limited],
    )) as Array<{ n: number }>;
    expect(running.n).toBeLessThanOrEqual(3);
    // One claim of 8 over three webhooks with due deliveries takes from each (a fair share), not 8 of the oldest.
    await ds.query(
      `UPDATE deliveries SET status = 'canceled', locked_by = NULL, locked_until = NULL WHERE status = 'running'`,
    );
    const one = await queue.claim('g', 9, 30_000);
    for (const w of [limited, ...others]) expect(one.filter((r) => r.webhook_id === w).length).toBeGreaterThan(0);
  });

  it('does not claim on every publish while all it could claim is held back by a limit: the wake-ups are one claim', async () => {
    const full = await webhookWithBacklog(5, 1);
    // Another worker has the webhook's one slot.
    expect(await queue.claim('other', 1, 60_000)).toHaveLength(1);
    const worker = new QueueWorker(queue, async () => undefined, {
      concurrency: 4,
      leaseMs: 30_000,
      pollIntervalMs: 3_600_000,
      // Long enough that every wake-up below falls within it.
      minClaimGapMs: 3_600_000,
    });
    let notified = 0;
    const unsubscribe = queue.subscribe(() => notified++);
    worker.start();
    try {
      await eventually(async () => (worker.stats.claims === 1 ? true : undefined), 10_000, 'the first claim');
      expect(worker.stats.empty).toBe(1);
      const [{ type }] = (await ds.query(`SELECT event_type AS type FROM deliveries WHERE webhook_id = $1 LIMIT 1`, [
        full,
      ])) as Array<{ type: string }>;
      for (let i = 0; i < 30; i++)
        await t.request({ method: 'POST', url: '/api/events', token: admin, body: { type, data: { i } } });
      // This process got all 30 wake-ups (one dispatch reaches the worker and this listener alike).
      await eventually(async () => (notified >= 30 ? true : undefined), 10_000, 'the wake-ups');
      expect(worker.stats.claims).toBe(1);
    } finally {
      unsubscribe();
      // Stopping ends the wait at once.
      await worker.stop();
    }
  });
});
