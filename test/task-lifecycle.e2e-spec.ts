import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { loadConfig } from '@hookhub/core';
import { TaskRunStore } from '@hookhub/tasks';
import { WorkerModule } from '@app/worker/worker.module';
import { type TestApp, bootApp } from './helpers/app';
import { usingRealPostgres } from './helpers/database';
import { PROGRAMS_DIR, type TaskView, create, program, waitForTask } from './helpers/inbound';
import { eventually } from './helpers/receiver';

const FAST = { HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR, HOOKHUB_QUEUE_POLL_MS: '200', HOOKHUB_TASK_KILL_GRACE_MS: '300' };

/** Concurrency policies and limits, and runs that outlive their hub: real child processes, real store. */
describe('task run lifecycle', () => {
  describe('concurrency', () => {
    let t: TestApp;
    let admin: string;

    beforeAll(async () => {
      t = await bootApp(FAST);
      admin = await t.login();
    });
    afterAll(() => t.close());

    const run = async (programId: string, payload: Record<string, unknown>) => {
      const res = await t.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${programId}/run`,
        token: admin,
        body: { payload },
      });
      expect(res.statusCode).toBe(201);
      return res.json.id;
    };
    const sleeper = (name: string, extra: Record<string, unknown>) =>
      create(t, admin, '/api/programs', {
        name,
        command: program('sleep.sh'),
        args: [{ template: '{{body.seconds}}', pattern: '^[0-9]$' }],
        ...extra,
      });
    const overlap = (a: TaskView, b: TaskView) =>
      Date.parse(a.started_at!) < Date.parse(b.finished_at!) && Date.parse(b.started_at!) < Date.parse(a.finished_at!);

    it('drop: a run whose key is already running is dropped, other keys still run', async () => {
      const p = await sleeper('drop-sleeper', { concurrency_key: '{{body.branch}}', concurrency_policy: 'drop' });
      const first = await run(p.id, { branch: 'main', seconds: 2 });
      await waitForTask(t, admin, first, (x) => x.status === 'running');
      const dropped = await run(p.id, { branch: 'main', seconds: 1 });
      const other = await run(p.id, { branch: 'dev', seconds: 1 });
      const d = await waitForTask(t, admin, dropped);
      expect(d.status).toBe('canceled');
      expect(d.error).toContain('policy drop');
      expect(d.started_at).toBeNull();
      expect((await waitForTask(t, admin, other)).status).toBe('succeeded');
      expect((await waitForTask(t, admin, first)).status).toBe('succeeded');
    });

    it('replace: a newer run with the same key cancels the running one and runs', async () => {
      const p = await sleeper('replace-sleeper', { concurrency_key: '{{body.branch}}', concurrency_policy: 'replace' });
      const older = await run(p.id, { branch: 'main', seconds: 9 });
      await waitForTask(t, admin, older, (x) => x.status === 'running');
      const newer = await run(p.id, { branch: 'main', seconds: 1 });
      const o = await waitForTask(t, admin, older);
      expect(o.status).toBe('canceled');
      expect(o.error).toContain('newer run');
      const n = await waitForTask(t, admin, newer);
      expect(n.status).toBe('succeeded');
      // The newer run started only once the older one had stopped.
      expect(Date.parse(n.started_at!)).toBeGreaterThanOrEqual(Date.parse(o.finished_at!));
    });

    it('concurrency_limit: runs of a program beyond its limit wait, and never overlap', async () => {
      const p = await sleeper('limited-sleeper', { concurrency_limit: 1 });
      const ids = [await run(p.id, { seconds: 1 }), await run(p.id, { seconds: 1 }), await run(p.id, { seconds: 1 })];
      const done = await Promise.all(ids.map((id) => waitForTask(t, admin, id)));
      expect(done.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      for (const a of done) for (const b of done) if (a !== b) expect(overlap(a, b)).toBe(false);
    });
  });

  describe('restarts', () => {
    it('a shutdown drains: a running task finishes and keeps its real outcome', async () => {
      const first = await bootApp(FAST);
      const admin = await first.login();
      const p = await create(first, admin, '/api/programs', {
        name: 'drained',
        command: program('sleep.sh'),
        args: ['{{body.seconds}}'],
      });
      const res = await first.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${p.id}/run`,
        token: admin,
        body: { payload: { seconds: 2 } },
      });
      await waitForTask(first, admin, res.json.id, (x) => x.stdout.includes('sleeping'));
      // The close returns once the run has finished (the default drain time, 30 s less the grace, is ample).
      await first.app.close();

      const second = await bootApp(FAST, { db: first.db });
      try {
        const token = await second.login();
        const run = (await second.request<TaskView>({ url: `/api/tasks/${res.json.id}`, token })).json;
        expect(run).toMatchObject({ status: 'succeeded', exit_code: 0, signal: null, error: null });
        expect(run.stdout).toContain('sleeping');
      } finally {
        await second.close();
        await first.db.drop();
      }
    });

    it('a run still going when the drain time is over is ended, failed with the reason, and its retry runs after the restart', async () => {
      // 2.5 s in all, less the 300 ms kill grace and the 2 s kept to record outcomes: 200 ms to drain.
      const first = await bootApp({ ...FAST, HOOKHUB_SHUTDOWN_TIMEOUT_MS: '2500' });
      const admin = await first.login();
      const p = await create(first, admin, '/api/programs', {
        name: 'slow',
        command: program('sleep.sh'),
        args: ['{{body.seconds}}'],
        retry_max: 1,
        retry_backoff_seconds: 0,
      });
      const res = await first.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${p.id}/run`,
        token: admin,
        body: { payload: { seconds: 3 } },
      });
      // Its process has started (its output is flushed every second) when the hub shuts down.
      await waitForTask(first, admin, res.json.id, (x) => x.stdout.includes('sleeping'));
      await first.app.close();

      const second = await bootApp(FAST, { db: first.db });
      try {
        const token = await second.login();
        const cut = await waitForTask(second, token, res.json.id);
        expect(cut.status).toBe('failed');
        expect(cut.error).toBe('the hub shut down while the task ran');
        const list = await second.request<{ items: TaskView[] }>({ url: `/api/tasks?program_id=${p.id}`, token });
        const retry = list.json.items.find((x) => x.retry_of === res.json.id);
        expect(retry).toMatchObject({ trigger: 'retry', attempt: 2 });
        expect((await waitForTask(second, token, retry!.id)).status).toBe('succeeded');
      } finally {
        await second.close();
        await first.db.drop();
      }
    });

    it('a run claimed as the hub shuts down, before it started, goes back to the queue untouched', async () => {
      const t = await bootApp({ ...FAST, HOOKHUB_RUN_WORKERS: 'false' });
      try {
        const admin = await t.login();
        const p = await create(t, admin, '/api/programs', {
          name: 'unstarted',
          command: program('sync.sh'),
          args: ['x'],
        });
        const res = await t.request<{ id: string }>({
          method: 'POST',
          url: `/api/programs/${p.id}/run`,
          token: admin,
          body: {},
        });
        const runs = t.app.get(TaskRunStore);
        const [claimed] = await runs.queue.claim('worker-a', 1, 30_000);
        expect(claimed).toMatchObject({ id: res.json.id, status: 'running' });
        // Only the worker holding the run may release it.
        expect(await runs.release(res.json.id, 'worker-b')).toBe(false);
        expect(await runs.release(res.json.id, 'worker-a')).toBe(true);
        const [row] = (await t.app
          .get(DataSource)
          .query(`SELECT status, started_at, attempts, locked_by FROM task_runs WHERE id = $1`, [
            res.json.id,
          ])) as Array<Record<string, unknown>>;
        expect(row).toEqual({ status: 'queued', started_at: null, attempts: 0, locked_by: null });
      } finally {
        await t.close();
      }
    });

    it('a sync trigger in flight when the hub shuts down still gets a whole answer, and its receipt', async () => {
      const t = await bootApp(FAST);
      try {
        const admin = await t.login();
        const p = await create(t, admin, '/api/programs', {
          name: 'slow-sync',
          command: program('sleep.sh'),
          args: ['5'],
        });
        const source = await create(t, admin, '/api/sources', {
          slug: 'slow',
          scheme: 'token',
          secrets: ['tok-secret'],
          response_mode: 'sync',
          sync_timeout_seconds: 30,
        });
        await create(t, admin, `/api/sources/${source.id}/rules`, { name: 'always', program_id: p.id });
        const inFlight = fetch(`${t.baseUrl}/hooks/slow`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer tok-secret' },
          body: '{}',
        });
        const [run] = await eventually(
          async () => {
            const list = await t.request<{ items: TaskView[] }>({
              url: `/api/tasks?program_id=${p.id}&status=running`,
              token: admin,
            });
            return list.json.items.length ? list.json.items : undefined;
          },
          20_000,
          'the run to start',
        );
        // The close must not wait out the keep-alive timeout (72 s, beyond the test's limit) on this connection.
        const closing = t.app.close();
        const res = await inFlight;
        const body = (await res.json()) as {
          succeeded: boolean;
          task_ids: string[];
          tasks: Array<{ status: string; error: string }>;
        };
        await closing;
        // Answered, not reset: the shutdown let the run finish, and the answer carries its outcome.
        expect(res.status).toBe(200);
        expect(body.succeeded).toBe(true);
        expect(body.task_ids).toEqual([run.id]);
        expect(body.tasks[0]).toMatchObject({ status: 'succeeded', error: null });
      } finally {
        const again = await bootApp(FAST, { db: t.db });
        const admin = await again.login();
        const receipts = await again.request<{ items: Array<{ slug: string; status_code: number; verdict: string }> }>({
          url: '/api/receipts',
          token: admin,
        });
        expect(receipts.json.items.filter((r) => r.slug === 'slow')).toEqual([
          expect.objectContaining({ status_code: 200, verdict: 'accepted' }),
        ]);
        await again.close();
      }
    });

    it('a run left running by a crashed hub is failed after its lease and retried by policy; none stays running', async () => {
      const first = await bootApp({ ...FAST, HOOKHUB_RUN_WORKERS: 'false' });
      const admin = await first.login();
      const p = await create(first, admin, '/api/programs', {
        name: 'crashy',
        command: program('sync.sh'),
        args: ['crash'],
        retry_max: 1,
        retry_backoff_seconds: 0,
      });
      const res = await first.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${p.id}/run`,
        token: admin,
        body: {},
      });
      // What a hub that died mid-run leaves behind: a running run, held by a worker whose lease ran out.
      await first.app.get(DataSource).query(
        `UPDATE task_runs SET status = 'running', attempts = 1, started_at = now() - interval '1 minute', locked_by = 'crashed-host:4242',
           locked_until = now() - interval '1 second' WHERE id = $1`,
        [res.json.id],
      );
      await first.app.close();

      const second = await bootApp(FAST, { db: first.db });
      try {
        const token = await second.login();
        const lost = await waitForTask(second, token, res.json.id);
        expect(lost.status).toBe('failed');
        expect(lost.error).toContain('stopped (hub restart or crash)');
        const list = await second.request<{ items: TaskView[] }>({ url: `/api/tasks?program_id=${p.id}`, token });
        const retry = list.json.items.find((x) => x.retry_of === res.json.id);
        const done = await waitForTask(second, token, retry!.id);
        expect(done).toMatchObject({ status: 'succeeded', attempt: 2, argv: ['crash'] });
        expect(done.stdout.trim()).toBe('synced task crash');
        const running = await second.request<{ total: number }>({ url: `/api/tasks?status=running`, token });
        expect(running.json.total).toBe(0);
      } finally {
        await second.close();
        await first.db.drop();
      }
    });
  });

  // The worker process shares a real Postgres with the API; the embedded store serves one process.
  (usingRealPostgres() ? describe : describe.skip)('scaled out', () => {
    it('the worker app runs the tasks that an API without workers queued', async () => {
      const api = await bootApp({ ...FAST, HOOKHUB_RUN_WORKERS: 'false' });
      let worker: Awaited<ReturnType<typeof NestFactory.createApplicationContext>> | undefined;
      try {
        // The API's task queue: a hub that works it claims through it, on every wake-up and poll.
        const apiQueue = api.app.get(TaskRunStore).queue;
        const claim = apiQueue.claim.bind(apiQueue);
        let apiClaims = 0;
        apiQueue.claim = (...args: Parameters<typeof claim>) => {
          apiClaims++;
          return claim(...args);
        };
        const admin = await api.login();
        const p = await create(api, admin, '/api/programs', {
          name: 'scaled',
          command: program('sync.sh'),
          args: ['{{body.name}}'],
        });
        const queued = await api.request<{ id: string; status: string }>({
          method: 'POST',
          url: `/api/programs/${p.id}/run`,
          token: admin,
          body: { payload: { name: 'far' } },
        });
        expect(queued.json.status).toBe('queued');
        worker = await NestFactory.createApplicationContext(
          WorkerModule.forRoot(loadConfig({ NODE_ENV: 'test', HOOKHUB_LOG_LEVEL: 'silent', ...FAST, ...api.db.env })),
          { logger: false },
        );
        await worker.init();
        const done = await waitForTask(api, admin, queued.json.id);
        expect(done.status).toBe('succeeded');
        expect(done.stdout.trim()).toBe('synced task far');
        // Nothing in the API tried to run it: the worker app did, alone.
        expect(apiClaims).toBe(0);
      } finally {
        await worker?.close();
        await api.close();
      }
    });
  });
});
