import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Client } from 'pg';
import { MIGRATIONS } from '@hookhub/migrations';
import { DeliveryStore } from '@hookhub/outbound';
import type { WorkQueue } from '@hookhub/store';
import { TaskRunStore } from '@hookhub/tasks';
import { type TestApp, bootApp } from './helpers/app';
import { type BuiltProcess, buildApps, spawnBuilt, workerRunning } from './helpers/build';
import { type TestDatabase, createTestDatabase, tempDir, usingRealPostgres } from './helpers/database';
import { PROGRAMS_DIR, create, program, waitForTask } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';

type Worker = BuiltProcess;

/**
 * The built worker app (`npm run start:worker`) as its own process: no HTTP, only the task and delivery
 * workers, on the Postgres an API without workers shares with it.
 */
describe('the built worker process (e2e)', () => {
  let workerMain: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    workerMain = buildApps('worker').worker;
  }, 180_000);
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  const start = (env: Record<string, string>): Worker => spawnBuilt(workerMain, env, children);

  it('refuses to start on the embedded store, saying why', async () => {
    const worker = start({ HOOKHUB_DATA_DIR: tempDir() });
    const [code] = (await once(worker.child, 'exit')) as [number | null];
    expect(code).toBe(1);
    expect(worker.output()).toContain('The worker needs DATABASE_URL');
  });

  (usingRealPostgres() ? it : it.skip)(
    'migrates the store, sends a delivery to a receiver and runs a task an API without workers queued, and stops on SIGTERM',
    async () => {
      const db: TestDatabase = await createTestDatabase();
      const receiver = await Receiver.start(() => ({ status: 200, body: 'ok' }));
      let api: TestApp | undefined;
      try {
        const settings = {
          HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
          HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
          HOOKHUB_QUEUE_POLL_MS: '200',
        };
        // First on the empty database: the worker migrates it.
        const worker = start({ ...db.env, ...settings });
        await workerRunning(worker);
        const client = new Client({ connectionString: db.url });
        await client.connect();
        try {
          const { rows } = await client.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
          expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
        } finally {
          await client.end();
        }

        api = await bootApp({ ...settings, HOOKHUB_RUN_WORKERS: 'false' }, { db });
        // The API's queues: a hub that works them claims through them, on every wake-up and poll.
        let apiClaims = 0;
        for (const queue of [api.app.get(DeliveryStore).queue, api.app.get(TaskRunStore).queue] as WorkQueue[]) {
          const claim = queue.claim.bind(queue);
          queue.claim = (workerId: string, limit: number, leaseMs: number) => {
            apiClaims++;
            return claim(workerId, limit, leaseMs);
          };
        }
        const admin = await api.login();
        const w = await create<{ id: string }>(api, admin, '/api/webhooks', { url: receiver.url, events: ['far.*'] });
        const event = await api.request<{ id: string; deliveries: number }>({
          method: 'POST',
          url: '/api/events',
          token: admin,
          body: { type: 'far.away', data: { n: 1 } },
        });
        expect(event.json.deliveries).toBe(1);
        const p = await create<{ id: string }>(api, admin, '/api/programs', {
          name: 'far-sync',
          command: program('sync.sh'),
          args: ['{{body.name}}'],
        });
        const run = await api.request<{ id: string; status: string; trigger: string }>({
          method: 'POST',
          url: `/api/programs/${p.id}/run`,
          token: admin,
          body: { payload: { name: 'remote' } },
        });
        // The answer is the run as it stands once the workers were woken: the worker process, already up,
        // may have claimed it by then, so its status is not fixed here (CI saw "running"). What proves who
        // ran it is below: the API never claimed, and the worker logged the run.
        expect(run.json).toMatchObject({ id: expect.any(String), trigger: 'manual' });

        const [received] = await receiver.waitFor(1);
        expect(received.json).toMatchObject({ id: event.json.id, type: 'far.away', data: { n: 1 } });
        expect(received.headers['webhook-id']).toEqual(expect.any(String));
        const delivered = await eventually(
          async () => {
            const items = (
              await api!.request<{ items: Array<{ status: string; attempts: number }> }>({
                url: `/api/webhooks/${w.id}/deliveries`,
                token: admin,
              })
            ).json.items;
            return items[0]?.status === 'succeeded' ? items : undefined;
          },
          20_000,
          'the delivery to succeed',
        );
        expect(delivered).toMatchObject([{ status: 'succeeded', attempts: 1 }]);

        const task = await waitForTask(api, admin, run.json.id);
        expect(task).toMatchObject({ status: 'succeeded', exit_code: 0 });
        expect(task.stdout.trim()).toBe('synced task remote');
        // The worker process did both: the API never claimed, and the worker logged the run (its log line
        // comes just after the outcome is committed, so it may trail the answer above).
        expect(apiClaims).toBe(0);
        await eventually(
          async () => (worker.output().includes(`"taskId":"${run.json.id}"`) ? true : undefined),
          10_000,
          "the worker's log line for the run",
        );

        const exited = once(worker.child, 'exit');
        worker.child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        expect(code).toBe(0);
        expect(worker.output()).toMatch(/Hookhub worker shut down in \d+ ms/);
      } finally {
        await api?.close();
        await receiver.close();
        await db.drop();
      }
    },
  );
});
