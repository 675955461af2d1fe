import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROCESS_IDENTITY, type ProcessIdentity, loadConfig } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { StoreRuntime } from '@hookhub/store';
import { type TestApp, bootApp } from './helpers/app';
import { type BuiltProcess, buildApps, spawnBuilt, workerRunning } from './helpers/build';
import { type TestDatabase, createTestDatabase, usingRealPostgres } from './helpers/database';
import { PROGRAMS_DIR, type TaskView, create, program, waitForTask } from './helpers/inbound';
import { eventually } from './helpers/receiver';

interface WorkerView {
  id: string;
  hostname: string;
  pid: number;
  version: string;
  queues: string[];
  started_at: string;
  last_seen: string;
  live: boolean;
  running_tasks: number;
  running_deliveries: number;
  stopped_at: string | null;
}

interface WorkersView {
  workers: WorkerView[];
  queues_without_workers: Array<{ queue: string; queued: number; oldest_due_age_seconds: number }>;
}

interface Refusal {
  code: string;
  details: Array<{ field: string; errors: string[] }>;
}

interface RunView extends TaskView {
  queue: string;
  worker_id: string | null;
  worker_hostname: string | null;
}

const VERSION = (JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }).version;

async function workers(t: TestApp, token: string): Promise<WorkersView> {
  const res = await t.request<WorkersView>({ url: '/api/workers', token });
  if (res.statusCode !== 200) throw new Error(`GET /api/workers gave ${res.statusCode}: ${res.body}`);
  return res.json;
}

async function runNow(t: TestApp, token: string, programId: string): Promise<RunView> {
  const res = await t.request<RunView>({ method: 'POST', url: `/api/programs/${programId}/run`, token, body: {} });
  if (res.statusCode !== 201) throw new Error(`manual run gave ${res.statusCode}: ${res.body}`);
  return res.json;
}

async function task(t: TestApp, token: string, id: string): Promise<RunView> {
  return (await t.request<RunView>({ url: `/api/tasks/${id}`, token })).json;
}

/** Program queues, the queue filter and the registry of one process that runs the workers itself. */
describe('execution nodes: queues and the worker registry (e2e)', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR, HOOKHUB_QUEUE_POLL_MS: '200' });
    admin = await t.login();
  });
  afterAll(async () => t?.close());

  it('refuses a bad queue name with a 400 naming the field, on create, update and the task list', async () => {
    for (const queue of ['Backup', '-backup', 'back up', 'q'.repeat(65), '', 7, null]) {
      const res = await t.request<Refusal>({
        method: 'POST',
        url: '/api/programs',
        token: admin,
        body: { name: 'bad-queue', command: program('backup.sh'), queue },
      });
      expect([res.statusCode, res.json.code]).toEqual([400, 'validation_failed']);
      expect(res.json.details.map((d) => d.field)).toEqual(['queue']);
    }
    const p = await create<{ id: string; queue: string }>(t, admin, '/api/programs', {
      name: 'queue-default',
      command: program('backup.sh'),
    });
    expect(p.queue).toBe('default');
    const patched = await t.request<Refusal>({
      method: 'PATCH',
      url: `/api/programs/${p.id}`,
      token: admin,
      body: { queue: 'Not.OK' },
    });
    expect([patched.statusCode, patched.json.details[0]?.field]).toEqual([400, 'queue']);
    expect(patched.json.details[0].errors[0]).toMatch(/^queue must be/);
    const listed = await t.request<Refusal>({ url: '/api/tasks?queue=NOPE', token: admin });
    expect([listed.statusCode, listed.json.details[0]?.field]).toEqual([400, 'queue']);
    // Nothing was saved by the refused update.
    expect((await t.request<{ queue: string }>({ url: `/api/programs/${p.id}`, token: admin })).json.queue).toBe(
      'default',
    );
  });

  it("runs the default queue in the API's own worker under the process id, and leaves other queues' runs queued", async () => {
    const identity = t.app.get<ProcessIdentity>(PROCESS_IDENTITY);
    const here = await create<{ id: string }>(t, admin, '/api/programs', {
      name: 'runs-here',
      command: program('backup.sh'),
    });
    const elsewhere = await create<{ id: string; queue: string }>(t, admin, '/api/programs', {
      name: 'runs-elsewhere',
      command: program('backup.sh'),
      queue: 'nas.backup',
    });
    expect(elsewhere.queue).toBe('nas.backup');

    const waiting = await runNow(t, admin, elsewhere.id);
    expect(waiting.queue).toBe('nas.backup');
    const done = await waitForTask(t, admin, (await runNow(t, admin, here.id)).id);
    expect(done.status).toBe('succeeded');
    const ran = await task(t, admin, done.id);
    expect(ran).toMatchObject({ queue: 'default', worker_id: identity.id, worker_hostname: hostname() });
    expect(identity.id).toMatch(new RegExp(`^${hostname()}:${process.pid}:[0-9a-f]{8}$`));

    // The run of the queue nobody takes is still waiting, after a run queued later was done.
    expect(await task(t, admin, waiting.id)).toMatchObject({ status: 'queued', worker_id: null });
    const view = await workers(t, admin);
    expect(view.workers).toEqual([
      expect.objectContaining({
        id: identity.id,
        hostname: hostname(),
        pid: process.pid,
        version: VERSION,
        queues: ['default'],
        live: true,
        stopped_at: null,
      }),
    ]);
    expect(view.queues_without_workers).toEqual([
      { queue: 'nas.backup', queued: 1, oldest_due_age_seconds: expect.any(Number) },
    ]);

    const byQueue = await t.request<{ items: RunView[] }>({ url: '/api/tasks?queue=nas.backup', token: admin });
    expect(byQueue.json.items.map((r) => r.id)).toEqual([waiting.id]);

    // A retry goes to the program's queue as it is now; the export carries the queue.
    await t.request({ method: 'PATCH', url: `/api/programs/${here.id}`, token: admin, body: { queue: 'nas.backup' } });
    const retried = await t.request<RunView>({ method: 'POST', url: `/api/tasks/${done.id}/retry`, token: admin });
    expect([retried.statusCode, retried.json.queue, retried.json.status]).toEqual([201, 'nas.backup', 'queued']);
    const exported = await t.request({ url: '/api/config/export', token: admin });
    const file = parse(exported.body) as { programs: Array<{ name: string; queue: string }> };
    expect(file.programs.filter((p) => p.name.startsWith('runs-')).map((p) => [p.name, p.queue])).toEqual([
      ['runs-elsewhere', 'nas.backup'],
      ['runs-here', 'nas.backup'],
    ]);
  });

  it('its migration reverts and re-applies cleanly', async () => {
    const db = await createTestDatabase();
    const store = await StoreRuntime.open(
      loadConfig({ NODE_ENV: 'test', ...db.env }),
      { migrations: MIGRATIONS },
      true,
    );
    try {
      const shape = async () =>
        (
          (await store.dataSource.query(
            `SELECT to_regclass('public.workers') IS NOT NULL AS workers,
               EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'programs' AND column_name = 'queue')
                 AS program_queue`,
          )) as Array<{ workers: boolean; program_queue: boolean }>
        )[0];
      const last = async () =>
        (
          (await store.dataSource.query(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`)) as Array<{
            name: string;
          }>
        )[0].name;
      expect(await shape()).toEqual({ workers: true, program_queue: true });
      // Newer migrations first, then this one.
      while ((await last()) !== 'ExecutionNodes1764700000000') await store.dataSource.undoLastMigration();
      await store.dataSource.undoLastMigration();
      expect(await last()).toBe('TaskQueues1764600000000');
      expect(await shape()).toEqual({ workers: false, program_queue: false });
      await store.dataSource.runMigrations();
      expect(await shape()).toEqual({ workers: true, program_queue: true });
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it('documents the workers endpoint and the queue fields with examples', async () => {
    const doc = (
      await t.request<{
        paths: Record<
          string,
          Record<string, { responses: Record<string, { content?: Record<string, { example?: unknown }> }> }>
        >;
        components: {
          schemas: Record<string, { properties: Record<string, { example?: unknown; pattern?: string }> }>;
        };
      }>({ url: '/docs-json' })
    ).json;
    const ok = doc.paths['/api/workers'].get.responses['200'].content?.['application/json'];
    expect(ok?.example).toMatchObject({
      workers: expect.arrayContaining([
        expect.objectContaining({ live: true }),
        expect.objectContaining({ live: false }),
      ]),
      queues_without_workers: [expect.anything()],
    });
    expect(doc.components.schemas.CreateProgramDto.properties.queue).toMatchObject({ example: 'backup' });
    expect(doc.components.schemas.ProgramDto.properties.queue).toMatchObject({ example: 'default' });
    expect(doc.components.schemas.TaskRunDto.properties).toMatchObject({
      queue: expect.objectContaining({ example: 'backup' }),
      worker_id: expect.objectContaining({ example: 'nas-01:4711:9f3c2a1b' }),
      worker_hostname: expect.objectContaining({ example: 'nas-01' }),
    });
    expect(doc.components.schemas.WorkerDto.properties.id).toMatchObject({ example: 'nas-01:4711:9f3c2a1b' });
  });

  it('lists workers to viewers and refuses callers without credentials', async () => {
    const viewer = await t.userWithRole('viewer');
    expect((await t.request({ url: '/api/workers', token: viewer.token })).statusCode).toBe(200);
    expect((await t.request({ url: '/api/workers' })).statusCode).toBe(401);
  });
});

type Worker = BuiltProcess;

/**
 * Two built worker processes on one Postgres, one taking `backup` and one `deploy`, behind an API that runs no
 * workers: each queue's runs land on its own worker, and a queue whose worker stopped waits for the next one.
 */
describe('execution nodes: worker processes per queue (e2e, real Postgres)', () => {
  const children: ChildProcess[] = [];
  let workerMain: string;

  beforeAll(() => {
    if (usingRealPostgres()) workerMain = buildApps('execution-nodes').worker;
  }, 180_000);
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  const settings = {
    HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
    HOOKHUB_QUEUE_POLL_MS: '200',
    HOOKHUB_WORKER_HEARTBEAT_SECONDS: '1',
    HOOKHUB_TASK_KILL_GRACE_MS: '300',
  };

  const start = (db: TestDatabase, queues: string): Worker =>
    spawnBuilt(workerMain, { ...db.env, ...settings, HOOKHUB_WORKER_QUEUES: queues }, children);

  const running = workerRunning;

  (usingRealPostgres() ? it : it.skip)(
    'runs each queue on its own worker; a stopped queue waits, is reported, and drains when a worker comes back',
    async () => {
      const db = await createTestDatabase();
      let api: TestApp | undefined;
      try {
        api = await bootApp({ ...settings, HOOKHUB_RUN_WORKERS: 'false' }, { db });
        const admin = await api.login();
        const backupWorker = start(db, 'backup');
        const deployWorker = start(db, 'deploy');
        await Promise.all([running(backupWorker), running(deployWorker)]);

        // Both registered, told apart by their pids: live, with their queues.
        const registered = await eventually(
          async () => {
            const view = await workers(api!, admin);
            return view.workers.filter((w) => w.live).length === 2 ? view : undefined;
          },
          20_000,
          'both workers to be live',
        );
        const backupNode = registered.workers.find((w) => w.pid === backupWorker.child.pid)!;
        const deployNode = registered.workers.find((w) => w.pid === deployWorker.child.pid)!;
        expect(backupNode).toMatchObject({ queues: ['backup'], hostname: hostname(), version: VERSION, live: true });
        expect(deployNode).toMatchObject({ queues: ['deploy'], hostname: hostname(), version: VERSION, live: true });
        expect(backupNode.id).toBe(`${hostname()}:${backupWorker.child.pid}:${backupNode.id.split(':').pop()}`);
        expect(registered.queues_without_workers).toEqual([]);

        const backup = await create<{ id: string }>(api, admin, '/api/programs', {
          name: 'nightly-backup',
          command: program('backup.sh'),
          queue: 'backup',
        });
        const deploy = await create<{ id: string }>(api, admin, '/api/programs', {
          name: 'deploy-app',
          command: program('deploy.sh'),
          queue: 'deploy',
        });
        const sleeper = await create<{ id: string }>(api, admin, '/api/programs', {
          name: 'long-backup',
          command: program('sleep.sh'),
          args: ['30'],
          queue: 'backup',
        });

        // Each run lands on its own queue's worker.
        const firstBackup = await runNow(api, admin, backup.id);
        const firstDeploy = await runNow(api, admin, deploy.id);
        expect([firstBackup.queue, firstDeploy.queue]).toEqual(['backup', 'deploy']);
        for (const [run, node] of [
          [firstBackup, backupNode],
          [firstDeploy, deployNode],
        ] as const) {
          expect((await waitForTask(api, admin, run.id)).status).toBe('succeeded');
          expect(await task(api, admin, run.id)).toMatchObject({ worker_id: node.id, worker_hostname: hostname() });
        }

        // The heartbeat reports what a worker is running.
        const long = await runNow(api, admin, sleeper.id);
        await eventually(
          async () => {
            const view = await workers(api!, admin);
            return view.workers.find((w) => w.id === backupNode.id)?.running_tasks === 1 ? true : undefined;
          },
          20_000,
          'the backup worker to report its running task',
        );
        await api.request({ method: 'POST', url: `/api/tasks/${long.id}/cancel`, token: admin });
        expect((await waitForTask(api, admin, long.id)).status).toBe('canceled');

        // The deploy worker stops: it says so, and is no longer live.
        const exited = once(deployWorker.child, 'exit');
        deployWorker.child.kill('SIGTERM');
        expect(((await exited) as [number | null])[0]).toBe(0);
        const afterStop = await workers(api, admin);
        expect(afterStop.workers.find((w) => w.id === deployNode.id)).toMatchObject({
          live: false,
          stopped_at: expect.any(String),
        });
        expect(afterStop.workers[0]).toMatchObject({ id: backupNode.id, live: true });

        // A deploy run now waits: the backup worker, which demonstrably runs a later backup run, leaves it.
        const waitingDeploy = await runNow(api, admin, deploy.id);
        const laterBackup = await runNow(api, admin, backup.id);
        expect((await waitForTask(api, admin, laterBackup.id)).status).toBe('succeeded');
        expect((await task(api, admin, laterBackup.id)).worker_id).toBe(backupNode.id);
        expect(await task(api, admin, waitingDeploy.id)).toMatchObject({ status: 'queued', worker_id: null });
        const unserved = await workers(api, admin);
        expect(unserved.queues_without_workers).toEqual([
          { queue: 'deploy', queued: 1, oldest_due_age_seconds: expect.any(Number) },
        ]);
        expect(unserved.queues_without_workers[0].oldest_due_age_seconds).toBeGreaterThanOrEqual(0);

        // A deploy worker again: the waiting run completes there.
        const nextDeployWorker = start(db, 'deploy');
        await running(nextDeployWorker);
        const drained = await waitForTask(api, admin, waitingDeploy.id);
        expect(drained.status).toBe('succeeded');
        const nextNode = (await workers(api, admin)).workers.find((w) => w.pid === nextDeployWorker.child.pid)!;
        expect(nextNode).toMatchObject({ queues: ['deploy'], live: true });
        expect(nextNode.id).not.toBe(deployNode.id);
        expect((await task(api, admin, waitingDeploy.id)).worker_id).toBe(nextNode.id);
        expect((await workers(api, admin)).queues_without_workers).toEqual([]);

        for (const w of [backupWorker, nextDeployWorker]) {
          const done = once(w.child, 'exit');
          w.child.kill('SIGTERM');
          await done;
        }
        expect((await workers(api, admin)).workers.every((w) => !w.live)).toBe(true);
      } finally {
        await api?.close();
        await db.drop();
      }
    },
    240_000,
  );
});
