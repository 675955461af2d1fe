import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, githubSignature, program, waitForTask } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';

interface Overview {
  from: string;
  to: string;
  hours: number;
  receipts: Array<{ hour: string; verdict: string; count: number }>;
  task_runs: Array<{ status: string; count: number }>;
  deliveries: Array<{ hour: string; attempts: number; succeeded: number }>;
  delivery_totals: {
    attempts: number;
    succeeded: number;
    success_rate: number | null;
    p50_ms: number | null;
    p95_ms: number | null;
  };
  failing_webhooks: Array<{ id: string; name: string; failing_since: string; last_error: string | null }>;
  failing_webhooks_total: number;
  task_queues: Array<{ queue: string; queued: number }>;
  deliveries_queued: number;
  deliveries_due: number;
  live_workers: number;
}

/** GET /api/overview, the console's first page: what came in, ran, was delivered, is failing and waits. */
describe('overview (e2e)', () => {
  let t: TestApp;
  let admin: string;
  let ok: Receiver;
  let down: Receiver;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
      HOOKHUB_RETRY_SCHEDULE: '60',
      HOOKHUB_QUEUE_POLL_MS: '100',
    });
    admin = await t.login();
    ok = await Receiver.start();
    down = await Receiver.start(() => ({ status: 503, body: 'maintenance' }));
  });
  afterAll(async () => {
    await ok?.close();
    await down?.close();
    await t?.close();
  });

  const overview = async (query = '', token = admin) => {
    const res = await t.request<Overview>({ url: `/api/overview${query}`, token });
    expect(res.statusCode).toBe(200);
    return res.json;
  };

  it('starts empty: whole hours, no counts, no rates, the API process as a live worker', async () => {
    const o = await overview();
    expect(o.hours).toBe(24);
    expect(new Date(o.from).getUTCMinutes()).toBe(0);
    expect(new Date(o.to).getTime() - new Date(o.from).getTime()).toBeLessThanOrEqual(24 * 3600_000);
    expect(new Date(o.to).getTime() - new Date(o.from).getTime()).toBeGreaterThan(23 * 3600_000);
    expect(o).toMatchObject({
      receipts: [],
      task_runs: [],
      deliveries: [],
      delivery_totals: { attempts: 0, succeeded: 0, success_rate: null, p50_ms: null, p95_ms: null },
      failing_webhooks: [],
      failing_webhooks_total: 0,
      deliveries_queued: 0,
      deliveries_due: 0,
    });
    expect(o.live_workers).toBeGreaterThanOrEqual(1);
  });

  it('counts triggers by verdict, runs by status and attempts by outcome, and lists the failing webhook', async () => {
    const deploy = await create(t, admin, '/api/programs', { name: 'ov-deploy', command: program('deploy.sh') });
    const fail = await create(t, admin, '/api/programs', { name: 'ov-fail', command: program('fail.sh') });
    const source = await create<{ id: string }>(t, admin, '/api/sources', {
      slug: 'ov-repo',
      scheme: 'github',
      secrets: ['ov-secret'],
    });
    await create(t, admin, `/api/sources/${source.id}/rules`, {
      name: 'main',
      program_id: deploy.id,
      condition: { path: 'body.ref', eq: 'refs/heads/main' },
    });
    await create(t, admin, `/api/sources/${source.id}/rules`, {
      name: 'broken',
      program_id: fail.id,
      condition: { path: 'body.ref', eq: 'refs/heads/broken' },
    });
    const send = (ref: string, n: number, secret = 'ov-secret') => {
      const body = JSON.stringify({ ref });
      return t.request({
        method: 'POST',
        url: '/hooks/ov-repo',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': `ov-${ref}-${n}`,
          'x-hub-signature-256': githubSignature(secret, body),
        },
        payload: body,
      });
    };
    const sent = [
      await send('refs/heads/main', 1),
      await send('refs/heads/main', 2),
      await send('refs/heads/broken', 3),
      await send('refs/heads/dev', 4),
      await send('refs/heads/main', 5, 'wrong-secret'),
    ];
    expect(sent.map((r) => r.statusCode)).toEqual([202, 202, 202, 202, 401]);
    const runs = await t.request<{ items: Array<{ id: string }> }>({ url: '/api/tasks', token: admin });
    for (const run of runs.json.items) await waitForTask(t, admin, run.id);

    const good = await create(t, admin, '/api/webhooks', { name: 'ov-ok', url: ok.url, events: ['*'] });
    const bad = await create(t, admin, '/api/webhooks', { name: 'ov-down', url: down.url, events: ['*'] });
    for (let i = 0; i < 3; i++) {
      const published = await t.request({
        method: 'POST',
        url: '/api/events',
        token: admin,
        body: { type: 'webhook.test', data: { i } },
      });
      expect(published.statusCode).toBe(202);
    }
    const o = await eventually(async () => {
      const x = await overview();
      return x.delivery_totals.attempts >= 6 ? x : undefined;
    });

    const byVerdict = Object.fromEntries(
      o.receipts.reduce((m, r) => m.set(r.verdict, (m.get(r.verdict) ?? 0) + r.count), new Map<string, number>()),
    );
    expect(byVerdict).toEqual({ accepted: 3, unmatched: 1, rejected: 1 });
    for (const r of o.receipts) expect(new Date(r.hour).getUTCMinutes()).toBe(0);
    expect(Object.fromEntries(o.task_runs.map((r) => [r.status, r.count]))).toEqual({ succeeded: 2, failed: 1 });
    expect(o.deliveries.reduce((n, h) => n + h.attempts, 0)).toBe(6);
    expect(o.delivery_totals).toMatchObject({ attempts: 6, succeeded: 3, success_rate: 0.5 });
    expect(o.delivery_totals.p50_ms).toEqual(expect.any(Number));
    expect(o.failing_webhooks_total).toBe(1);
    expect(o.failing_webhooks).toEqual([
      expect.objectContaining({ id: bad.id, name: 'ov-down', last_error: expect.stringContaining('503') }),
    ]);
    expect(o.failing_webhooks.map((w) => w.id)).not.toContain(good.id);
    // The failed deliveries wait for their retry (a minute away).
    expect([o.deliveries_queued, o.deliveries_due]).toEqual([3, 0]);

    // The receipts list filters by the status answered (the console's receipts filter).
    const refused = await t.request<{ items: Array<{ verdict: string; status_code: number }>; total: number }>({
      url: '/api/receipts?status_code=401',
      token: admin,
    });
    expect(refused.json.total).toBe(1);
    expect(refused.json.items.map((r) => [r.verdict, r.status_code])).toEqual([['rejected', 401]]);
    const outOfRange = await t.request({ url: '/api/receipts?status_code=99', token: admin });
    expect(outOfRange.statusCode).toBe(400);
  });

  it('a viewer may read it; without credentials, or with a key lacking a scope, it is refused', async () => {
    const viewer = await t.userWithRole('viewer');
    expect((await overview('?hours=6', viewer.token)).hours).toBe(6);
    expect((await t.request({ url: '/api/overview' })).statusCode).toBe(401);
    const key = await t.request<{ key: string }>({
      method: 'POST',
      url: '/api/api-keys',
      token: admin,
      body: { name: 'ov-key', scopes: ['webhooks:read'] },
    });
    expect(key.statusCode).toBe(201);
    const scoped = await t.request<{ code: string }>({ url: '/api/overview', headers: { 'x-api-key': key.json.key } });
    expect([scoped.statusCode, scoped.json.code]).toEqual([403, 'forbidden']);
  });

  it('refuses a window outside 1 to 168 hours, naming the field', async () => {
    for (const hours of ['0', '169', 'abc', '2.5']) {
      const res = await t.request<{ code: string; details: Array<{ field: string }> }>({
        url: `/api/overview?hours=${hours}`,
        token: admin,
      });
      expect([hours, res.statusCode, res.json.code]).toEqual([hours, 400, 'validation_failed']);
      expect(res.json.details.map((d) => d.field)).toContain('hours');
    }
  });
});
