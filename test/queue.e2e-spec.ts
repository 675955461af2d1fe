import 'reflect-metadata';
import { loadConfig } from '@hookhub/core';
import { MIGRATIONS } from '@hookhub/migrations';
import { JobsService, QueueHousekeeping, QueueWorker, StoreRuntime, WorkQueue, type ClaimedRow } from '@hookhub/store';
import { createTestDatabase, type TestDatabase } from './helpers/database';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms until it is true (or throws after `timeoutMs`, long enough for a loaded machine). */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('work queue on the store (integration)', () => {
  let db: TestDatabase;
  let store: StoreRuntime;
  let queueSeq = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ NODE_ENV: 'test', ...db.env });
    store = await StoreRuntime.open(config, { entities: [], migrations: MIGRATIONS }, true);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  function freshQueue(): { name: string; queue: WorkQueue } {
    const name = `q${++queueSeq}`;
    return { name, queue: new WorkQueue(store.dataSource, store.notifier, { name: `job:${name}`, table: 'queue_jobs', where: { column: 'queue', value: name } }) };
  }

  async function insertJobs(queue: string, n: number, runAt = 'now()'): Promise<string[]> {
    const rows = (await store.dataSource.query(
      `INSERT INTO queue_jobs (queue, payload, run_at) SELECT $1, jsonb_build_object('n', g), ${runAt} FROM generate_series(1, $2) g RETURNING id`,
      [queue, n],
    )) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  it('never gives the same row to two concurrent claimers', async () => {
    const { name, queue } = freshQueue();
    const ids = await insertJobs(name, 200);
    const seen = new Map<string, string>();
    const claimer = async (worker: string) => {
      for (;;) {
        const rows = await queue.claim(worker, 7, 30_000);
        if (!rows.length) return;
        for (const row of rows) {
          expect(seen.has(row.id)).toBe(false);
          seen.set(row.id, worker);
        }
      }
    };
    await Promise.all([claimer('a'), claimer('b'), claimer('c'), claimer('d')]);
    expect(seen.size).toBe(ids.length);
    expect(new Set(seen.values()).size).toBeGreaterThan(1);
  });

  it('takes only due rows and respects the filter of a shared table', async () => {
    const { name, queue } = freshQueue();
    const other = freshQueue();
    await insertJobs(name, 2, "now() + interval '1 hour'");
    const [due] = await insertJobs(name, 1);
    await insertJobs(other.name, 3);
    const rows = await queue.claim('w', 10, 30_000);
    expect(rows.map((r) => r.id)).toEqual([due]);
    expect(rows[0]).toMatchObject({ attempts: 1, recovered: false, status: 'running', locked_by: 'w' });
  });

  it('gives a crashed claimer’s rows to another after the lease, and fences the old claimer off', async () => {
    const { name, queue } = freshQueue();
    const [id] = await insertJobs(name, 1);
    const LEASE_MS = 1500;
    const claimedAt = Date.now();
    const first = await queue.claim('crashed', 1, LEASE_MS);
    expect(first.map((r) => r.id)).toEqual([id]);
    // Still leased: nobody else may take it, however often they try, until the lease has run out.
    let second: ClaimedRow[] = [];
    await until(async () => (second = await queue.claim('other', 1, 30_000)).length > 0, 'the lease to run out');
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(LEASE_MS - 50);
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ id, recovered: true, attempts: 2, locked_by: 'other' });
    // The crashed claimer comes back: its late completion must not count.
    expect(await queue.complete(id, 'crashed')).toBe(false);
    expect(await queue.complete(id, 'other')).toBe(true);
    const [row] = (await store.dataSource.query('SELECT status, finished_at FROM queue_jobs WHERE id = $1', [id])) as Array<{ status: string; finished_at: Date | null }>;
    expect(row.status).toBe('done');
    expect(row.finished_at).not.toBeNull();
  });

  it('reschedules, extends leases and fails rows', async () => {
    const { name, queue } = freshQueue();
    const [id] = await insertJobs(name, 1);
    await queue.claim('w', 1, 30_000);
    expect(await queue.extendLease(id, 'w', 60_000)).toBe(true);
    expect(await queue.extendLease(id, 'intruder', 60_000)).toBe(false);
    expect(await queue.reschedule(id, 'w', new Date(Date.now() + 3_600_000), 'boom')).toBe(true);
    expect(await queue.claim('w', 1, 30_000)).toEqual([]);
    await store.dataSource.query(`UPDATE queue_jobs SET run_at = now() WHERE id = $1`, [id]);
    const again = await queue.claim('w', 1, 30_000);
    expect(again[0]).toMatchObject({ id, attempts: 2, last_error: 'boom' });
    expect(await queue.fail(id, 'w', 'gave up')).toBe(true);
    const [row] = (await store.dataSource.query('SELECT status, last_error FROM queue_jobs WHERE id = $1', [id])) as Array<{ status: string; last_error: string }>;
    expect(row).toEqual({ status: 'dead', last_error: 'gave up' });
  });

  it('wakes an idle worker at once on enqueue instead of waiting for the poll', async () => {
    const jobs = new JobsService(store.dataSource, store.notifier, { pollIntervalMs: 3_600_000, runWorkers: true });
    const handled: unknown[] = [];
    let resolveHandled!: () => void;
    const done = new Promise<void>((r) => (resolveHandled = r));
    // Tells when the worker's first claim has come back empty: from then on it sleeps for an hour.
    const queue = jobs.queue('wake-test');
    const claim = queue.claim.bind(queue);
    let emptyClaims = 0;
    queue.claim = async (...args: Parameters<WorkQueue['claim']>) => {
      const rows = await claim(...args);
      if (!rows.length) emptyClaims++;
      return rows;
    };
    const worker = jobs.worker<{ hello: string }>('wake-test', async (job) => {
      handled.push(job.payload);
      resolveHandled();
    });
    worker.start();
    try {
      await until(() => emptyClaims > 0, 'the first (empty) claim');
      await jobs.enqueue('wake-test', { hello: 'world' });
      // The poll is an hour away: only the wake-up can deliver the job.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the enqueue did not wake the worker')), 15_000)));
      await Promise.race([done, late]).finally(() => clearTimeout(timer));
      expect(handled).toEqual([{ hello: 'world' }]);
    } finally {
      await worker.stop();
    }
  });

  it('retries a failing job with backoff, then marks it dead after max attempts', async () => {
    const jobs = new JobsService(store.dataSource, store.notifier, { pollIntervalMs: 50, runWorkers: true });
    let calls = 0;
    const worker = jobs.worker(
      'retry-test',
      async () => {
        calls++;
        throw new Error(`failure ${calls}`);
      },
      { retryBaseMs: 10, retryMaxMs: 20 },
    );
    const id = await jobs.enqueue('retry-test', {}, { maxAttempts: 3 });
    worker.start();
    try {
      await until(async () => {
        const [row] = (await store.dataSource.query('SELECT status FROM queue_jobs WHERE id = $1', [id])) as Array<{ status: string }>;
        return row.status === 'dead';
      }, 'the job to be dead');
    } finally {
      await worker.stop();
    }
    const [row] = (await store.dataSource.query('SELECT status, attempts, last_error FROM queue_jobs WHERE id = $1', [id])) as Array<{
      status: string;
      attempts: number;
      last_error: string;
    }>;
    expect(row).toEqual({ status: 'dead', attempts: 3, last_error: 'failure 3' });
    expect(calls).toBe(3);
  });

  it('runs at most `concurrency` handlers at once and drains in-flight work on stop', async () => {
    const { name, queue } = freshQueue();
    await insertJobs(name, 12);
    let active = 0;
    let peak = 0;
    const finished: string[] = [];
    const worker = new QueueWorker(
      queue,
      async (row: ClaimedRow, workerId: string) => {
        active++;
        peak = Math.max(peak, active);
        await sleep(40);
        active--;
        await queue.complete(row.id, workerId);
        finished.push(row.id);
      },
      { concurrency: 3, leaseMs: 10_000, pollIntervalMs: 20 },
    );
    worker.start();
    await until(() => finished.length === 12, 'twelve finished jobs').finally(() => worker.stop());
    expect(finished).toHaveLength(12);
    expect(peak).toBe(3);
    expect(worker.busy).toBe(0);
  });

  it('deletes finished jobs past their retention and keeps the rest', async () => {
    const name = `hk${++queueSeq}`;
    const [old, recent, pending] = await insertJobs(name, 3);
    await store.dataSource.query(`UPDATE queue_jobs SET status = 'done', finished_at = now() - interval '30 days' WHERE id = $1`, [old]);
    await store.dataSource.query(`UPDATE queue_jobs SET status = 'done', finished_at = now() WHERE id = $1`, [recent]);
    const housekeeping = new QueueHousekeeping(store.dataSource, { pollIntervalMs: 1000, runWorkers: true });
    expect(await housekeeping.purge(7)).toBeGreaterThanOrEqual(1);
    const left = (await store.dataSource.query('SELECT id FROM queue_jobs WHERE queue = $1 ORDER BY id', [name])) as Array<{ id: string }>;
    expect(left.map((r) => r.id).sort()).toEqual([recent, pending].sort());
  });
});
