import type { ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { Client } from 'pg';
import { type TestApp, ADMIN_PASSWORD, bootApp } from './helpers/app';
import { type BuiltProcess, buildApps, spawnBuilt, workerRunning } from './helpers/build';
import { type TestDatabase, createTestDatabase, usingRealPostgres } from './helpers/database';
import { create } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';

type Child = BuiltProcess;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function rowsOf(db: TestDatabase, sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

/**
 * A delivery starts at most `max_per_second` times in any second at the limiter. The test cannot see a start,
 * only its request's arrival at the receiver and the attempt's `duration_ms` (measured by the sender from
 * before it connects until the answer). So each start lies in [arrival - duration - SLACK_MS, arrival]:
 * SLACK_MS covers the signing between the limiter's answer and the send. Timing arrivals alone failed on a
 * loaded machine, where a just-started worker's first requests took most of a second to arrive.
 */
const SLACK_MS = 100;

interface StartBounds {
  earliest: number;
  latest: number;
}

/**
 * The smallest span that some `k` deliveries' starts surely fit in: for a set of them, the latest any may
 * have started less the earliest any may have. Each delivery in turn is taken as the set's earliest, with the
 * k - 1 others (starting no earlier) that may have started soonest. Below 1000 ms, k starts fell within one
 * second whatever the exact times were: a limit of k - 1 per second was broken.
 */
function tightestSpan(bounds: StartBounds[], k: number): number {
  let best = Infinity;
  for (const first of bounds) {
    const others = bounds
      .filter((b) => b !== first && b.earliest >= first.earliest)
      .map((b) => b.latest)
      .sort((x, y) => x - y);
    if (others.length < k - 1) continue;
    best = Math.min(best, Math.max(first.latest, others[k - 2]) - first.earliest);
  }
  return best;
}

/**
 * Limits that hold over every process (issue 13, item 4): a webhook's `max_per_second` over two worker
 * processes, and the `source.rejected_burst` count over two API processes, each on the shared Postgres and on
 * Redis. Needs a Postgres server (the worker and the processes share one); the Redis cases need
 * HOOKHUB_TEST_REDIS_URL too.
 */
(usingRealPostgres() ? describe : describe.skip)('limits shared by processes (e2e)', () => {
  const redisUrl = process.env.HOOKHUB_TEST_REDIS_URL;
  const stores: Array<{ name: string; env: Record<string, string> }> = [{ name: 'Postgres', env: {} }];
  if (redisUrl) stores.push({ name: 'Redis', env: { REDIS_URL: redisUrl } });

  let mains: { api: string; worker: string };
  const children: ChildProcess[] = [];

  beforeAll(() => {
    mains = buildApps('shared-limits');
  }, 180_000);
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  const spawnMain = (main: string, env: Record<string, string>): Child => spawnBuilt(main, env, children);

  const stop = async (c: Child): Promise<void> => {
    if (c.child.exitCode !== null || c.child.signalCode !== null) return;
    const exited = new Promise((resolve) => c.child.once('exit', resolve));
    c.child.kill('SIGTERM');
    await exited;
  };

  const startedWorker = async (env: Record<string, string>): Promise<Child> => {
    const worker = spawnMain(mains.worker, env);
    await workerRunning(worker);
    return worker;
  };

  describe.each(stores)("a webhook's max_per_second, counted in $name", ({ env: storeEnv }) => {
    it('holds over two worker processes: 40 queued events reach the receiver at 5 a second at most, all of them', async () => {
      const db = await createTestDatabase();
      const receiver = await Receiver.start(() => ({ status: 200, body: 'ok' }));
      let api: TestApp | undefined;
      const workers: Child[] = [];
      try {
        const settings = { ...storeEnv, HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32', HOOKHUB_QUEUE_POLL_MS: '200' };
        api = await bootApp({ ...settings, HOOKHUB_RUN_WORKERS: 'false' }, { db });
        const admin = await api.login();
        const webhook = await create<{ id: string }>(api, admin, '/api/webhooks', {
          url: receiver.url,
          events: ['paced.*'],
          max_per_second: 5,
          max_in_flight: 20,
        });
        const ids = new Set<string>();
        for (let i = 0; i < 40; i++) {
          const event = await api.request<{ id: string; deliveries: number }>({
            method: 'POST',
            url: '/api/events',
            token: admin,
            body: { type: 'paced.event', data: { n: i } },
          });
          expect(event.json.deliveries).toBe(1);
          ids.add(event.json.id);
        }
        // The backlog is queued before either worker runs, so both claim from it at once; two at a time each,
        // so neither takes the whole backlog and both keep starting deliveries to the one webhook.
        const workerEnv = { ...db.env, ...settings, HOOKHUB_DELIVERY_CONCURRENCY: '2' };
        workers.push(...(await Promise.all([startedWorker(workerEnv), startedWorker(workerEnv)])));

        const received = await receiver.waitFor(40, 60_000);
        expect(new Set(received.map((r) => r.json.id))).toEqual(ids);
        // Every delivery succeeded, each on its first attempt: held-back deliveries went back to the queue
        // without one.
        const deliveries = await eventually(
          async () => {
            const res = await api!.request<{ items: Array<{ status: string; attempts: number }> }>({
              url: `/api/webhooks/${webhook.id}/deliveries?limit=100`,
              token: admin,
            });
            return res.json.items.length === 40 && res.json.items.every((d) => d.status === 'succeeded')
              ? res.json.items
              : undefined;
          },
          20_000,
          'every delivery to succeed',
        );
        expect(deliveries.every((d) => d.attempts === 1)).toBe(true);
        const logs = await api.request<{ items: Array<{ delivery_id: string; duration_ms: number }> }>({
          url: `/api/webhooks/${webhook.id}/logs?limit=100`,
          token: admin,
        });
        const durations = new Map(logs.json.items.map((a) => [a.delivery_id, a.duration_ms]));
        expect(durations.size).toBe(40);
        const bounds = received.map((r) => {
          const duration = durations.get(String(r.headers['x-hookhub-delivery']));
          if (duration === undefined)
            throw new Error(`no attempt for delivery ${String(r.headers['x-hookhub-delivery'])}`);
          return { earliest: r.at - duration - SLACK_MS, latest: r.at };
        });
        const why = () => `worker output:\n${workers.map((w) => w.output()).join('\n---\n')}`;
        // No six starts fit in one second, whatever their order at the receiver.
        const span = tightestSpan(bounds, 6);
        if (span < 1000) throw new Error(`six deliveries started within ${span} ms\n${why()}`);
        // So 40 took at least seven seconds: each process counting alone would have sent them in about four.
        const lastStart = Math.max(...bounds.map((b) => b.latest));
        const firstStart = Math.min(...bounds.map((b) => b.earliest));
        expect(lastStart - firstStart).toBeGreaterThanOrEqual(7000);
        // The counter lived in the store chosen at boot: the table without Redis, Redis with it.
        const counted = await rowsOf(db, 'SELECT key FROM shared_counters WHERE key = $1', [
          `webhook-starts:${webhook.id}`,
        ]);
        expect(counted).toHaveLength(storeEnv.REDIS_URL ? 0 : 1);
      } finally {
        await Promise.all(workers.map(stop));
        await api?.close();
        await receiver.close();
        await db.drop();
      }
    }, 150_000);
  });

  describe.each(stores)('source.rejected_burst, counted in $name', ({ env: storeEnv }) => {
    it('is published exactly once when two API processes each refuse part of the threshold', async () => {
      const db = await createTestDatabase();
      const watcher = await Receiver.start();
      let a: TestApp | undefined;
      let b: Child | undefined;
      try {
        const settings = { ...storeEnv, HOOKHUB_REJECTED_BURST_THRESHOLD: '4', HOOKHUB_QUEUE_POLL_MS: '200' };
        // A works the queues (it delivers the notice); B is another process serving HTTP only.
        a = await bootApp({ ...settings, HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32' }, { db });
        const port = await freePort();
        b = spawnMain(mains.api, {
          ...db.env,
          ...settings,
          HOST: '127.0.0.1',
          PORT: String(port),
          HOOKHUB_ADMIN_PASSWORD: ADMIN_PASSWORD,
          HOOKHUB_RUN_WORKERS: 'false',
        });
        const bUrl = `http://127.0.0.1:${port}`;
        await eventually(
          async () => {
            if (b!.child.exitCode !== null) throw new Error(`B exited with ${b!.child.exitCode}:\n${b!.output()}`);
            return (await fetch(`${bUrl}/health/ready`).catch(() => undefined))?.status === 200 ? true : undefined;
          },
          60_000,
          'API B to get ready',
        );

        const admin = await a.login();
        await create(a, admin, '/api/webhooks', {
          url: watcher.url,
          events: ['source.rejected_burst', 'marker.*'],
        });
        const source = await create<{ id: string }>(a, admin, '/api/sources', {
          slug: 'shared-bursty',
          scheme: 'hmac',
          verification: { header: 'X-Signature', encoding: 'hex' },
          secrets: ['burst-secret-value'],
        });
        const refuse = async (baseUrl: string) => {
          const res = await fetch(`${baseUrl}/hooks/shared-bursty`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-signature': 'deadbeef' },
            body: '{}',
          });
          expect(res.status).toBe(401);
        };
        const notices = async () =>
          (await a!.request<{ total: number }>({ url: '/api/events?type=source.rejected_burst', token: admin })).json
            .total;

        // Two refusals each: neither process alone reaches the threshold of four.
        for (const url of [a.baseUrl, bUrl, a.baseUrl, bUrl]) await refuse(url);
        await eventually(async () => ((await notices()) >= 1 ? true : undefined), 20_000, 'the notice');
        const [notice] = await watcher.waitFor(1);
        expect(notice.json).toMatchObject({
          type: 'source.rejected_burst',
          data: { source_id: source.id, slug: 'shared-bursty', rejected: 4, window_seconds: 60, last_status: 401 },
        });
        // Four more, on both: another burst's worth within the minute, yet no second notice. A marker published
        // after them arrives (each refusal is counted within ms of its answer, a delivery takes longer), and by
        // then the hub's events still hold one notice.
        for (const url of [bUrl, a.baseUrl, bUrl, a.baseUrl]) await refuse(url);
        const marker = await a.request<{ id: string }>({
          method: 'POST',
          url: '/api/events',
          token: admin,
          body: { type: 'marker.after', data: {} },
        });
        await eventually(
          async () => (watcher.received.some((r) => r.json.id === marker.json.id) ? true : undefined),
          20_000,
          'the marker event',
        );
        expect(await notices()).toBe(1);
        expect(watcher.received.filter((r) => r.json.type === 'source.rejected_burst')).toHaveLength(1);
        const counted = await rowsOf(db, 'SELECT key FROM shared_counters WHERE key LIKE $1', [`%${source.id}`]);
        expect(counted).toHaveLength(storeEnv.REDIS_URL ? 0 : 2);
      } finally {
        if (b) await stop(b);
        await a?.close();
        await watcher.close();
        await db.drop();
      }
    }, 150_000);
  });
});
