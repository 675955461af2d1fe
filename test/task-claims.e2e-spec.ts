import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { type PreparedRun, type RunOutcome, TaskRunStore } from '@hookhub/tasks';
import { type TestApp, bootApp } from './helpers/app';
import { buildApps, spawnBuilt, workerRunning } from './helpers/build';
import { type TestDatabase, createTestDatabase, usingRealPostgres } from './helpers/database';
import { PROGRAMS_DIR, type TaskView, create, program, waitForTask } from './helpers/inbound';

const SUCCEEDED: RunOutcome = {
  status: 'succeeded',
  exitCode: 0,
  signal: null,
  durationMs: 1,
  stdout: null,
  stderr: null,
  stdoutBytes: null,
  stderrBytes: null,
  error: null,
};

/**
 * The task claim at the store: free runs start from an index of claimable runs only; runs a concurrency rule
 * holds back are parked (out of that index) and unparked one at a time as the run holding them finishes;
 * policies apply when a run is looked at. Workers are off: the test claims as a worker would.
 */
describe('task claims (e2e)', () => {
  let t: TestApp;
  let admin: string;
  let runs: TaskRunStore;
  let ds: DataSource;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR, HOOKHUB_RUN_WORKERS: 'false' });
    admin = await t.login();
    runs = t.app.get(TaskRunStore);
    ds = t.app.get(DataSource);
  });
  afterAll(() => t.close());

  const makeProgram = (name: string, extra: Record<string, unknown> = {}) =>
    create<{ id: string; name: string }>(t, admin, '/api/programs', { name, command: program('sync.sh'), ...extra });

  /**
   * Queues `count` runs of `p`, one transaction each; returns their ids in queue order (run_at, then id:
   * runs queued within the same millisecond have no order of their own).
   */
  const enqueue = async (p: { id: string; name: string }, count: number, key: string | null = null) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const run: PreparedRun = {
        id: randomUUID(),
        program_id: p.id,
        program_name: p.name,
        trigger: 'manual',
        receipt_id: null,
        source_id: null,
        rule_id: null,
        retry_of: null,
        triggered_by: 'test',
        attempt: 1,
        max_attempts: 1,
        argv: [],
        env: {},
        concurrency_key: key,
      };
      await runs.insert([run]);
      ids.push(run.id);
    }
    return (
      (await ds.query(`SELECT id FROM task_runs WHERE id = ANY($1::uuid[]) ORDER BY run_at, id`, [ids])) as Array<{
        id: string;
      }>
    ).map((r) => r.id);
  };
  const parked = async (ids: string[]) =>
    (
      (await ds.query(`SELECT id, parked_on, status FROM task_runs WHERE id = ANY($1::uuid[]) ORDER BY run_at, id`, [
        ids,
      ])) as Array<{ id: string; parked_on: string | null; status: string }>
    ).filter((r) => r.parked_on !== null);
  const claim = async (worker: string, limit: number) => (await runs.claimDue(worker, limit, 30_000)).map((r) => r.id);
  const finish = (id: string, worker: string) => runs.finish(id, worker, SUCCEEDED, async () => undefined);

  it('starts a free run queued behind a backlog its key holds back, parks that backlog, and lets it go one by one', async () => {
    const keyed = await makeProgram('keyed');
    const free = await makeProgram('free');
    const blocked = await enqueue(keyed, 60, 'main');
    const [freeRun] = await enqueue(free, 1);

    expect(await claim('w1', 1)).toEqual([blocked[0]]);
    // The other 59 runs of the key are older than the free run: the claim parks them and starts the free one.
    expect(await claim('w2', 1)).toEqual([freeRun]);
    expect((await parked(blocked)).map((r) => r.id)).toEqual(blocked.slice(1));
    expect((await parked(blocked)).every((r) => r.parked_on === 'key')).toBe(true);
    // Nothing claimable is left: a claim finds nothing, however long the parked backlog.
    expect(await claim('w2', 4)).toEqual([]);

    // The key's run finishes: exactly the next one is unparked, and starts.
    expect(await finish(blocked[0], 'w1')).toBe(true);
    expect((await parked(blocked)).map((r) => r.id)).toEqual(blocked.slice(2));
    expect(await claim('w2', 4)).toEqual([blocked[1]]);
    // While it runs, its key stays held: nothing else starts.
    expect(await claim('w3', 4)).toEqual([]);
    expect(await finish(blocked[1], 'w2')).toBe(true);
    expect(await claim('w3', 4)).toEqual([blocked[2]]);
  });

  it("keeps a program's concurrency limit: runs beyond it are parked on the program and unparked as slots free", async () => {
    const limited = await makeProgram('limited', { concurrency_limit: 2 });
    const ids = await enqueue(limited, 6);

    const first = await claim('w1', 5);
    expect(first).toEqual(ids.slice(0, 2));
    expect((await parked(ids)).map((r) => [r.id, r.parked_on])).toEqual(ids.slice(2).map((id) => [id, 'program']));
    expect(await claim('w2', 5)).toEqual([]);

    expect(await finish(first[0], 'w1')).toBe(true);
    expect(await claim('w2', 5)).toEqual([ids[2]]);
    expect(await claim('w2', 5)).toEqual([]);

    // Raising the limit takes effect through the safety net, which unparks as many as the new free slots.
    const res = await t.request({
      method: 'PATCH',
      url: `/api/programs/${limited.id}`,
      token: admin,
      body: { concurrency_limit: 4 },
    });
    expect(res.statusCode).toBe(200);
    expect(await runs.unparkStale()).toBe(2);
    expect((await claim('w3', 5)).sort()).toEqual(ids.slice(3, 5).sort());
    expect((await parked(ids)).map((r) => r.id)).toEqual([ids[5]]);
  });

  it('applies drop and replace when a run is looked at', async () => {
    const dropper = await makeProgram('dropper', { concurrency_key: 'k', concurrency_policy: 'drop' });
    const [running] = await enqueue(dropper, 1, 'drop-key');
    expect(await claim('w1', 1)).toEqual([running]);
    const late = await enqueue(dropper, 3, 'drop-key');
    expect(await claim('w2', 4)).toEqual([]);
    const dropped = (await ds.query(`SELECT status, last_error FROM task_runs WHERE id = ANY($1::uuid[])`, [
      late,
    ])) as Array<{ status: string; last_error: string }>;
    expect(dropped.map((r) => r.status)).toEqual(['canceled', 'canceled', 'canceled']);
    expect(dropped.every((r) => r.last_error.includes('policy drop'))).toBe(true);

    const replacer = await makeProgram('replacer', { concurrency_key: 'k', concurrency_policy: 'replace' });
    const [old] = await enqueue(replacer, 1, 'rep-key');
    expect(await claim('w1', 1)).toEqual([old]);
    const newer = await enqueue(replacer, 3, 'rep-key');
    expect(await claim('w2', 4)).toEqual([]);
    const state = async (id: string) =>
      (
        (await ds.query(
          `SELECT status, parked_on, cancel_requested_at IS NOT NULL AS cancel_asked, last_error FROM task_runs WHERE id = $1`,
          [id],
        )) as Array<{ status: string; parked_on: string | null; cancel_asked: boolean; last_error: string | null }>
      )[0];
    // The running one is asked to stop, the older queued ones give way, the newest waits for the key.
    expect(await state(old)).toMatchObject({ status: 'running', cancel_asked: true });
    for (const id of newer.slice(0, 2))
      expect(await state(id)).toMatchObject({ status: 'canceled', last_error: expect.stringContaining('newer run') });
    expect(await state(newer[2])).toMatchObject({ status: 'queued', parked_on: 'key' });
    expect(await finish(old, 'w1')).toBe(true);
    expect(await claim('w2', 4)).toEqual([newer[2]]);
  });

  it('gives each run to one claimer when many claim at once, and never two runs of a key or more than the limit', async () => {
    const keyed = await makeProgram('keyed-race');
    const limited = await makeProgram('limited-race', { concurrency_limit: 3 });
    const free = await makeProgram('free-race');
    const keyRuns = await enqueue(keyed, 10, 'race');
    const limitedRuns = await enqueue(limited, 10);
    const freeRuns = await enqueue(free, 20);
    const got = (await Promise.all(['a', 'b', 'c', 'd', 'e'].map((w) => runs.claimDue(w, 8, 30_000)))).flat();
    const ids = got.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.filter((id) => keyRuns.includes(id)).length).toBeLessThanOrEqual(1);
    expect(ids.filter((id) => limitedRuns.includes(id)).length).toBeLessThanOrEqual(3);
    const running = (await ds.query(
      `SELECT count(*) FILTER (WHERE concurrency_key = 'race')::int AS keyed,
              count(*) FILTER (WHERE program_id = $1)::int AS limited,
              count(*) FILTER (WHERE program_id = $2)::int AS free
       FROM task_runs WHERE status = 'running'`,
      [limited.id, free.id],
    )) as Array<{ keyed: number; limited: number; free: number }>;
    expect(running[0].keyed).toBeLessThanOrEqual(1);
    expect(running[0].limited).toBeLessThanOrEqual(3);
    expect(running[0].free).toBe(ids.filter((id) => freeRuns.includes(id)).length);
  });
});

/**
 * Two worker processes on one Postgres: the concurrency key and the program's limit hold over both, and
 * both take work (each runs at most two at once here, so four long runs need both).
 */
(usingRealPostgres() ? describe : describe.skip)('task claims over two worker processes (e2e)', () => {
  const children: ChildProcess[] = [];
  let db: TestDatabase;
  let api: TestApp;
  let admin: string;

  beforeAll(async () => {
    const { worker: workerMain } = buildApps('task-claims');
    db = await createTestDatabase();
    const settings = { HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR, HOOKHUB_QUEUE_POLL_MS: '200' };
    api = await bootApp({ ...settings, HOOKHUB_RUN_WORKERS: 'false' }, { db });
    admin = await api.login();
    for (let i = 0; i < 2; i++) {
      const worker = spawnBuilt(
        workerMain,
        {
          HOOKHUB_TASK_CONCURRENCY: '2',
          ...db.env,
          ...settings,
          ...Object.fromEntries(Object.entries(api.env).filter(([k]) => /SECRET|KEY|PASSWORD/.test(k))),
        },
        children,
      );
      await workerRunning(worker);
    }
  }, 240_000);
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await api?.close();
  });

  const overlapping = (list: TaskView[]) => {
    // The most runs of `list` that were running at one moment.
    const edges = list.flatMap((r) => [
      [Date.parse(r.started_at!), 1],
      [Date.parse(r.finished_at!), -1],
    ]);
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let most = 0;
    for (const [, d] of edges) most = Math.max(most, (now += d));
    return most;
  };

  it('holds the key and the limit over both workers, and both run work', async () => {
    const sleeper = (name: string, extra: Record<string, unknown>) =>
      create<{ id: string }>(api, admin, '/api/programs', {
        name,
        command: program('sleep.sh'),
        args: [{ template: '{{body.seconds}}', pattern: '^[0-9.]+$' }],
        ...extra,
      });
    const keyed = await sleeper('keyed', { concurrency_key: 'one' });
    const limited = await sleeper('limited', { concurrency_limit: 1 });
    const free = await sleeper('free', {});
    const run = async (id: string, seconds: number) =>
      (
        await api.request<{ id: string }>({
          method: 'POST',
          url: `/api/programs/${id}/run`,
          token: admin,
          body: { payload: { seconds } },
        })
      ).json.id;
    const freeIds = [];
    for (let i = 0; i < 4; i++) freeIds.push(await run(free.id, 2));
    const keyedIds = [];
    const limitedIds = [];
    for (let i = 0; i < 3; i++) {
      keyedIds.push(await run(keyed.id, 0.3));
      limitedIds.push(await run(limited.id, 0.3));
    }
    const done = async (ids: string[]) => Promise.all(ids.map((id) => waitForTask(api, admin, id, undefined, 60_000)));
    const [freeDone, keyedDone, limitedDone] = [await done(freeIds), await done(keyedIds), await done(limitedIds)];
    for (const list of [freeDone, keyedDone, limitedDone])
      expect(list.map((r) => r.status)).toEqual(list.map(() => 'succeeded'));
    expect(overlapping(keyedDone)).toBe(1);
    expect(overlapping(limitedDone)).toBe(1);
    const workers = (await api.app
      .get(DataSource)
      .query(`SELECT DISTINCT worker_id FROM task_runs WHERE id = ANY($1::uuid[])`, [freeIds])) as Array<{
      worker_id: string;
    }>;
    expect(workers).toHaveLength(2);
  }, 120_000);
});
