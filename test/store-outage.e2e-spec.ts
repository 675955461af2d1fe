import { existsSync } from 'node:fs';
import { type TestApp, bootApp } from './helpers/app';
import { type TestDatabase, createTestDatabase, usingRealPostgres } from './helpers/database';
import { PROGRAMS_DIR, type TaskView, create, program, waitForTask } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';
import { TcpProxy } from './helpers/tcp-proxy';

/**
 * The store goes away under a running hub (a Postgres restart): the hub's connections go through a TCP
 * proxy the test cuts and restores. Needs a Postgres server to stand behind the proxy.
 */
(usingRealPostgres() ? describe : describe.skip)('the store down and back (e2e, Postgres behind a proxy)', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = await TcpProxy.start(db.url!);
    t = await bootApp(
      {
        DATABASE_URL: proxy.rewrite(db.url!),
        HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
        HOOKHUB_QUEUE_POLL_MS: '200',
        HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
        HOOKHUB_LOG_LEVEL: 'fatal',
      },
      { db },
    );
    admin = await t.login();
  });
  afterAll(async () => {
    proxy?.up();
    await t?.close();
    await proxy?.close();
    await db?.drop();
  });
  afterEach(() => proxy.up());

  it('answers 503 store_unavailable with Retry-After on /health/ready, /api and /hooks, and recovers by itself', async () => {
    await create(t, admin, '/api/sources', { slug: 'outage', scheme: 'token', secrets: ['tok'] });
    proxy.down();
    const answers = await Promise.all([
      t.request({ url: '/health/ready' }),
      t.request({ url: '/api/sources', token: admin }),
      t.request({
        method: 'POST',
        url: '/hooks/outage',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
        payload: '{}',
      }),
    ]);
    for (const res of answers) {
      expect({
        status: res.statusCode,
        code: (res.json as { code: string }).code,
        retryAfter: res.headers['retry-after'],
      }).toEqual({
        status: 503,
        code: 'store_unavailable',
        retryAfter: '5',
      });
      expect((res.json as { requestId: string }).requestId).toEqual(expect.any(String));
    }
    // Liveness does not depend on the store.
    expect((await t.request({ url: '/health/live' })).statusCode).toBe(200);

    proxy.up();
    await eventually(
      async () => ((await t.request({ url: '/health/ready' })).statusCode === 200 ? true : undefined),
      20_000,
      'ready again',
    );
    expect((await t.request({ url: '/api/sources', token: admin })).statusCode).toBe(200);
    const hook = await t.request({
      method: 'POST',
      url: '/hooks/outage',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
      payload: '{}',
    });
    expect(hook.statusCode).toBe(202);
  });

  it('records the real outcome of a run that finished while the store was down (no "worker stopped", no retry)', async () => {
    const p = await create(t, admin, '/api/programs', {
      name: 'through-outage',
      command: program('sleep.sh'),
      args: ['2'],
      retry_max: 2,
      retry_backoff_seconds: 0,
    });
    const run = await t.request<{ id: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: admin,
      body: {},
    });
    const started = await waitForTask(t, admin, run.json.id, (x) => x.stdout.includes('sleeping'));
    const pid = Number(/sleeping (\d+)/.exec(started.stdout)![1]);
    proxy.down();
    // The program exits while the store is unreachable.
    await eventually(async () => (existsSync(`/proc/${pid}`) ? undefined : true), 20_000, 'the program to exit');
    await new Promise((r) => setTimeout(r, 1000));
    proxy.up();

    const done = await waitForTask(t, admin, run.json.id);
    expect(done).toMatchObject({ status: 'succeeded', exit_code: 0, error: null, attempt: 1 });
    const runs = await t.request<{ items: TaskView[] }>({ url: `/api/tasks?program_id=${p.id}`, token: admin });
    expect(runs.json.items.map((r) => r.id)).toEqual([run.json.id]);
  });

  it('does not send again a delivery the receiver took while the store was down', async () => {
    // The receiver answers 200 a second after the request arrives; the store is cut in between.
    const receiver = await Receiver.start(() => ({ status: 200, delayMs: 1000 }));
    try {
      const hook = await create<{ id: string }>(t, admin, '/api/webhooks', { url: receiver.url, events: ['outage.*'] });
      const published = await t.request<{ id: string }>({
        method: 'POST',
        url: '/api/events',
        token: admin,
        body: { type: 'outage.test', data: {} },
      });
      expect(published.statusCode).toBe(202);
      await receiver.waitFor(1);
      proxy.down();
      await new Promise((r) => setTimeout(r, 2500));
      proxy.up();

      const delivery = await eventually(
        async () => {
          const list = await t.request<{ items: Array<{ status: string; attempts: number }> }>({
            url: `/api/webhooks/${hook.id}/deliveries`,
            token: admin,
          });
          return list.statusCode === 200 && list.json.items[0]?.status === 'succeeded' ? list.json.items[0] : undefined;
        },
        30_000,
        'the delivery to be recorded',
      );
      // Recorded once it could be: one attempt, one request, nothing left to resend.
      expect(delivery.attempts).toBe(1);
      expect(receiver.received).toHaveLength(1);
      const logs = await t.request<{ total: number; items: Array<{ success: boolean; status_code: number }> }>({
        url: `/api/webhooks/${hook.id}/logs`,
        token: admin,
      });
      expect(logs.json.total).toBe(1);
      expect(logs.json.items[0]).toMatchObject({ success: true, status_code: 200 });
    } finally {
      await receiver.close();
    }
  });
});
