import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, program, waitForTask } from './helpers/inbound';
import { Receiver } from './helpers/receiver';

const FAST = {
  HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
  HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
  HOOKHUB_RETRY_SCHEDULE: '0.3,0.3',
  HOOKHUB_QUEUE_POLL_MS: '100',
};

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** The value of one sample line (`name{labels}`), or undefined when /metrics has no such line. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The operator's metrics in /metrics: counters and histograms by bounded labels, and gauges read from the store. */
describe('/metrics (e2e)', () => {
  describe('with the workers running', () => {
    let t: TestApp;
    let admin: string;
    const receivers: Receiver[] = [];
    const ids: string[] = [];

    beforeAll(async () => {
      t = await bootApp(FAST);
      admin = await t.login();
    });
    afterAll(async () => {
      await Promise.all(receivers.map((r) => r.close()));
      await t?.close();
    });

    it('counts receipts, task runs, delivery attempts and latency, without ids in labels', async () => {
      const ok = await create(t, admin, '/api/programs', { name: 'metrics-ok', command: program('sync.sh') });
      const bad = await create(t, admin, '/api/programs', { name: 'metrics-fail', command: program('fail.sh') });
      const source = await create(t, admin, '/api/sources', {
        slug: 'metrics-src',
        scheme: 'token',
        secrets: ['t0ken'],
      });
      const rule = await create(t, admin, `/api/sources/${source.id}/rules`, { name: 'all', program_id: ok.id });
      ids.push(ok.id, bad.id, source.id, rule.id);

      const accepted = await t.request<{ receipt_id: string; task_ids: string[] }>({
        method: 'POST',
        url: '/hooks/metrics-src',
        headers: { authorization: 'Bearer t0ken' },
        body: { hello: 'world' },
      });
      expect(accepted.statusCode).toBe(202);
      const unknown = await t.request({
        method: 'POST',
        url: '/hooks/no-such-source-3f2a',
        headers: { 'content-type': 'application/json' },
        payload: '{}',
      });
      expect(unknown.statusCode).toBe(404);
      const succeeded = await waitForTask(t, admin, accepted.json.task_ids[0]);
      expect(succeeded.status).toBe('succeeded');
      const run = await create(t, admin, `/api/programs/${bad.id}/run`, {});
      const failed = await waitForTask(t, admin, run.id);
      expect(failed.status).toBe('failed');
      ids.push(accepted.json.receipt_id, succeeded.id, failed.id);

      const good = await Receiver.start(() => ({ status: 200, body: 'ok' }));
      const broken = await Receiver.start(() => ({ status: 500, body: 'down' }));
      receivers.push(good, broken);
      const hookOk = await create(t, admin, '/api/webhooks', { url: good.url, events: ['metrics.ok'] });
      const hookBad = await create(t, admin, '/api/webhooks', { url: broken.url, events: ['metrics.bad'] });
      ids.push(hookOk.id, hookBad.id);
      for (const type of ['metrics.ok', 'metrics.bad']) {
        const res = await t.request<{ id: string }>({
          method: 'POST',
          url: '/api/events',
          token: admin,
          body: { type, data: {} },
        });
        expect(res.statusCode).toBe(202);
        ids.push(res.json.id);
      }
      const finalOf = (hookId: string) =>
        until(`the delivery of webhook ${hookId}`, async () => {
          const res = await t.request<{ items: Array<{ id: string; status: string }> }>({
            url: `/api/webhooks/${hookId}/deliveries`,
            token: admin,
          });
          const d = res.json.items[0];
          return d && ['succeeded', 'failed'].includes(d.status) ? d : undefined;
        });
      const delivered = await finalOf(hookOk.id);
      const gaveUp = await finalOf(hookBad.id);
      expect([delivered.status, gaveUp.status]).toEqual(['succeeded', 'failed']);
      ids.push(delivered.id, gaveUp.id);

      const res = await t.request({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      const text = res.body;
      expect(sample(text, 'hookhub_receipts_total{source="metrics-src",verdict="accepted"}')).toBe(1);
      expect(sample(text, 'hookhub_receipts_total{source="unknown",verdict="rejected"}')).toBe(1);
      expect(text).not.toContain('no-such-source-3f2a');
      expect(sample(text, 'hookhub_task_runs_total{program="metrics-ok",outcome="succeeded"}')).toBe(1);
      expect(sample(text, 'hookhub_task_runs_total{program="metrics-fail",outcome="failed"}')).toBe(1);
      expect(sample(text, 'hookhub_task_run_duration_seconds_count{program="metrics-ok",outcome="succeeded"}')).toBe(1);
      expect(sample(text, 'hookhub_task_run_duration_seconds_count{program="metrics-fail",outcome="failed"}')).toBe(1);
      expect(sample(text, 'hookhub_delivery_attempts_total{outcome="succeeded",status_class="2xx"}')).toBe(1);
      // Two retries by HOOKHUB_RETRY_SCHEDULE, then the last attempt fails the delivery.
      expect(sample(text, 'hookhub_delivery_attempts_total{outcome="retrying",status_class="5xx"}')).toBe(2);
      expect(sample(text, 'hookhub_delivery_attempts_total{outcome="failed",status_class="5xx"}')).toBe(1);
      expect(sample(text, 'hookhub_delivery_latency_seconds_count')).toBe(1);
      expect(sample(text, 'hookhub_delivery_latency_seconds_sum')).toBeGreaterThan(0);
      // Read from the store: the 500 webhook is failing; nothing is queued and due any more.
      expect(sample(text, 'hookhub_webhooks_failing')).toBe(1);
      expect(sample(text, 'hookhub_queue_depth{queue="tasks"}')).toBe(0);
      expect(sample(text, 'hookhub_queue_depth{queue="deliveries"}')).toBe(0);
      expect(sample(text, 'hookhub_queue_oldest_due_age_seconds{queue="deliveries"}')).toBe(0);

      for (const id of ids) expect(text).not.toContain(id);
      expect(text).not.toMatch(UUID);
    });
  });

  describe('with the workers off', () => {
    let t: TestApp;
    let admin: string;

    beforeAll(async () => {
      t = await bootApp({ ...FAST, HOOKHUB_RUN_WORKERS: 'false' });
      admin = await t.login();
    });
    afterAll(async () => {
      await t?.close();
    });

    it('reports the queued, due run in the task queue depth and its age, cached between scrapes', async () => {
      const p = await create(t, admin, '/api/programs', { name: 'metrics-queued', command: program('sync.sh') });
      await create(t, admin, `/api/programs/${p.id}/run`, {});
      await new Promise((r) => setTimeout(r, 50));
      const first = (await t.request({ url: '/metrics' })).body;
      expect(sample(first, 'hookhub_queue_depth{queue="tasks"}')).toBe(1);
      expect(sample(first, 'hookhub_queue_oldest_due_age_seconds{queue="tasks"}')).toBeGreaterThan(0);
      expect(sample(first, 'hookhub_queue_depth{queue="deliveries"}')).toBe(0);
      expect(sample(first, 'hookhub_webhooks_failing')).toBe(0);
      // A second run within the 5 s cache does not show yet: the scrape did not query the store again.
      await create(t, admin, `/api/programs/${p.id}/run`, {});
      const second = (await t.request({ url: '/metrics' })).body;
      expect(sample(second, 'hookhub_queue_depth{queue="tasks"}')).toBe(1);
    });
  });
});
