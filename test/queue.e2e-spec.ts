import { DataSource } from 'typeorm';
import { DELIVERY_QUEUE, type ClaimedDelivery, type DeliveryQueue, DeliveryStore } from '@hookhub/outbound';
import { QueueWorker, type ClaimedRow, type WorkQueue } from '@hookhub/store';
import { TASK_QUEUE, TaskRunStore } from '@hookhub/tasks';
import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, program } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms until it is true (or throws after `timeoutMs`, long enough for a loaded machine). */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

/**
 * The two work queues of the hub, on the tables they work: `deliveries` (the delivery queue) and `task_runs`
 * (the task queue), filled through the admin API as the product fills them. The API runs no workers here,
 * so the tests claim, complete and fail rows themselves, through the queues the workers use.
 */
describe('the work queues on deliveries and task runs (e2e)', () => {
  let t: TestApp;
  let admin: string;
  let ds: DataSource;
  let deliveries: DeliveryQueue;
  let taskRuns: TaskRunStore;
  let tasks: WorkQueue;
  let seq = 0;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_RUN_WORKERS: 'false',
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      // No webhook's in-flight limit gets in the way of the claims below.
      HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT: '1000',
    });
    admin = await t.login();
    ds = t.app.get(DataSource);
    deliveries = t.app.get(DeliveryStore).queue;
    taskRuns = t.app.get(TaskRunStore);
    tasks = taskRuns.queue;
  });
  afterAll(async () => t?.close());

  // Each test starts with both queues empty: what an earlier one left queued or running is canceled.
  beforeEach(async () => {
    await ds.query(
      `UPDATE deliveries SET status = 'canceled', locked_by = NULL, locked_until = NULL, finished_at = now() WHERE status IN ('queued', 'running')`,
    );
    await ds.query(
      `UPDATE task_runs SET status = 'canceled', locked_by = NULL, locked_until = NULL, finished_at = now() WHERE status IN ('queued', 'running')`,
    );
  });

  /**
   * `webhooks` webhooks (never sent to: nothing works the queue but the test) of one event type and `n` events
   * of it: `n` queued deliveries per webhook.
   */
  async function queuedDeliveries(n: number, webhooks = 1): Promise<string[]> {
    const prefix = `q${++seq}`;
    const ids: string[] = [];
    for (let i = 0; i < webhooks; i++) {
      const w = await create<{ id: string }>(t, admin, '/api/webhooks', {
        url: 'http://127.0.0.1:9/queue',
        events: [`${prefix}.*`],
      });
      ids.push(w.id);
    }
    await inBatches(
      Array.from({ length: n }, (_, i) => i),
      20,
      async (i) => {
        const res = await t.request<{ deliveries: number }>({
          method: 'POST',
          url: '/api/events',
          token: admin,
          body: { type: `${prefix}.made`, data: { i } },
        });
        expect([res.statusCode, res.json.deliveries]).toEqual([202, webhooks]);
      },
    );
    const rows = (await ds.query(`SELECT id FROM deliveries WHERE webhook_id = ANY($1::uuid[]) AND status = 'queued'`, [
      ids,
    ])) as Array<{ id: string }>;
    expect(rows).toHaveLength(n * webhooks);
    return rows.map((r) => r.id);
  }

  /** A program and `n` manual runs of it: `n` queued task runs. */
  async function queuedRuns(n: number): Promise<string[]> {
    const p = await create<{ id: string }>(t, admin, '/api/programs', {
      name: `queued-${++seq}`,
      command: program('sync.sh'),
      args: ['x'],
    });
    return inBatches(
      Array.from({ length: n }, (_, i) => i),
      10,
      async () => {
        const res = await t.request<{ id: string; status: string }>({
          method: 'POST',
          url: `/api/programs/${p.id}/run`,
          token: admin,
          body: {},
        });
        expect([res.statusCode, res.json.status]).toEqual([201, 'queued']);
        return res.json.id;
      },
    );
  }

  async function row(table: 'deliveries' | 'task_runs', id: string) {
    const [r] = (await ds.query(
      `SELECT status, attempts, locked_by, last_error, finished_at FROM ${table} WHERE id = $1`,
      [id],
    )) as Array<{
      status: string;
      attempts: number;
      locked_by: string | null;
      last_error: string | null;
      finished_at: Date | null;
    }>;
    return r;
  }

  /**
   * Claims from `queue` as `workers` claimers at once, `batch` rows a claim, until all of `ids` were handed out
   * (a claim may come back empty while others hold the rows it looked at: the claimer tries again, as a
   * worker does on its next poll); who got what.
   */
  async function claimAll(queue: WorkQueue, ids: string[], workers: string[], batch: number) {
    const got = new Map<string, string[]>();
    const deadline = Date.now() + 30_000;
    await Promise.all(
      workers.map(async (worker) => {
        while (got.size < ids.length) {
          if (Date.now() > deadline) throw new Error(`only ${got.size} of ${ids.length} rows were claimed`);
          const rows = await queue.claim(worker, batch, 30_000);
          for (const r of rows) got.set(r.id, [...(got.get(r.id) ?? []), worker]);
          if (!rows.length) await sleep(10);
        }
      }),
    );
    return got;
  }

  it('never gives the same delivery or task run to two concurrent claimers', async () => {
    // Over 12 webhooks: a claim locks the webhooks it takes from (at most 7 here), the others are left to the
    // other claimers at the same moment.
    const deliveryIds = await queuedDeliveries(10, 12);
    const runIds = await queuedRuns(30);

    const gotDeliveries = await claimAll(deliveries, deliveryIds, ['a', 'b', 'c', 'd'], 7);
    expect([...gotDeliveries.keys()].sort()).toEqual([...deliveryIds].sort());
    expect([...gotDeliveries.values()].filter((claimers) => claimers.length > 1)).toEqual([]);
    expect(new Set([...gotDeliveries.values()].flat()).size).toBeGreaterThan(1);
    // The table agrees: each row is leased to the one claimer that got it, on its first attempt.
    const leased = (await ds.query(`SELECT id, locked_by, attempts FROM deliveries WHERE id = ANY($1::uuid[])`, [
      deliveryIds,
    ])) as Array<{ id: string; locked_by: string; attempts: number }>;
    expect(leased.filter((r) => r.locked_by !== gotDeliveries.get(r.id)?.[0] || r.attempts !== 1)).toEqual([]);

    const gotRuns = await claimAll(tasks, runIds, ['a', 'b', 'c'], 4);
    expect([...gotRuns.keys()].sort()).toEqual([...runIds].sort());
    expect([...gotRuns.values()].filter((claimers) => claimers.length > 1)).toEqual([]);
    // Nothing is left to claim once every row is out.
    expect([await deliveries.claim('late', 10, 30_000), await tasks.claim('late', 10, 30_000)]).toEqual([[], []]);
    const running = (await ds.query(`SELECT id, locked_by, status FROM task_runs WHERE id = ANY($1::uuid[])`, [
      runIds,
    ])) as Array<{ id: string; locked_by: string; status: string }>;
    expect(running.filter((r) => r.status !== 'running' || r.locked_by !== gotRuns.get(r.id)?.[0])).toEqual([]);
  });

  it('takes only due rows: a delivery put back for later waits for its time', async () => {
    const [later, now] = await queuedDeliveries(2);
    const claimed = await deliveries.claim('w', 10, 30_000);
    expect(claimed.map((r) => r.id).sort()).toEqual([later, now].sort());
    expect(claimed[0]).toMatchObject({ attempts: 1, recovered: false });
    expect(await deliveries.reschedule(later, 'w', new Date(Date.now() + 3_600_000), 'retry in an hour')).toBe(true);
    expect(await deliveries.reschedule(now, 'w', new Date(Date.now() - 1000), 'retry at once')).toBe(true);
    // However often it is asked, the queue hands out only the one that is due.
    for (let i = 0; i < 3; i++) {
      const again = await deliveries.claim(`w${i}`, 10, 30_000);
      expect(again.map((r) => r.id)).toEqual(i === 0 ? [now] : []);
    }
    expect(await row('deliveries', later)).toMatchObject({
      status: 'queued',
      attempts: 1,
      locked_by: null,
      last_error: 'retry in an hour',
    });
    expect(await row('deliveries', now)).toMatchObject({ status: 'running', attempts: 2, locked_by: 'w0' });
  });

  it('keeps the two queues apart: each claims only its own table, and a wake-up wakes only its own workers', async () => {
    const [delivery] = await queuedDeliveries(1);
    const [run] = await queuedRuns(1);
    expect((await tasks.claim('t', 10, 30_000)).map((r) => r.id)).toEqual([run]);
    expect((await deliveries.claim('d', 10, 30_000)).map((r) => r.id)).toEqual([delivery]);
    expect([await row('task_runs', run), await row('deliveries', delivery)]).toMatchObject([
      { locked_by: 't' },
      { locked_by: 'd' },
    ]);

    expect([deliveries.name, tasks.name]).toEqual([DELIVERY_QUEUE, TASK_QUEUE]);
    const woken = { deliveries: 0, tasks: 0 };
    const unsubscribe = [deliveries.subscribe(() => woken.deliveries++), tasks.subscribe(() => woken.tasks++)];
    try {
      await deliveries.wake();
      await until(() => woken.deliveries > 0, 'the delivery wake-up');
      // On Postgres the wake-up also comes back through LISTEN: give it time to reach the other queue, if it would.
      await sleep(300);
      expect(woken.tasks).toBe(0);
      const deliveryWakeUps = woken.deliveries;
      await tasks.wake();
      await until(() => woken.tasks > 0, 'the task wake-up');
      await sleep(300);
      expect(woken.deliveries).toBe(deliveryWakeUps);
    } finally {
      unsubscribe.forEach((u) => u());
    }
  });

  it('gives a crashed claimer’s delivery and task run to another after the lease, and fences the old claimer off', async () => {
    const [delivery] = await queuedDeliveries(1);
    const [run] = await queuedRuns(1);
    const LEASE_MS = 1500;
    const claimedAt = Date.now();
    expect((await deliveries.claim('crashed', 1, LEASE_MS)).map((r) => r.id)).toEqual([delivery]);
    expect((await tasks.claim('crashed', 1, LEASE_MS)).map((r) => r.id)).toEqual([run]);
    // Still leased: nobody else may take them, however often they try, until the lease has run out.
    let second: ClaimedDelivery[] = [];
    await until(
      async () => (second = await deliveries.claim('other', 1, 30_000)).length > 0,
      'the delivery lease to run out',
    );
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(LEASE_MS - 50);
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ id: delivery, recovered: true, attempts: 2 });
    let secondRun: ClaimedRow[] = [];
    await until(
      async () => (secondRun = await tasks.claim('other', 1, 30_000)).length > 0,
      'the task lease to run out',
    );
    expect(secondRun[0]).toMatchObject({ id: run, recovered: true, attempts: 2, locked_by: 'other' });

    // The crashed claimer comes back: nothing it does to the rows counts any more.
    expect(await deliveries.extendLease(delivery, 'crashed', 60_000)).toBe(false);
    expect(await deliveries.fail(delivery, 'crashed', 'late failure', 'failed')).toBe(false);
    expect(await deliveries.complete(delivery, 'crashed', 'succeeded')).toBe(false);
    expect(await taskRuns.release(run, 'crashed')).toBe(false);
    expect(await row('deliveries', delivery)).toMatchObject({ status: 'running', locked_by: 'other', attempts: 2 });
    expect(await deliveries.complete(delivery, 'other', 'succeeded')).toBe(true);
    const done = await row('deliveries', delivery);
    expect(done).toMatchObject({ status: 'succeeded', locked_by: null });
    expect(done.finished_at).not.toBeNull();
  });

  it('extends leases, reschedules with the error, and fails deliveries, each only for the lease holder', async () => {
    const [id] = await queuedDeliveries(1);
    await deliveries.claim('w', 1, 30_000);
    expect(await deliveries.extendLease(id, 'w', 60_000)).toBe(true);
    expect(await deliveries.extendLease(id, 'intruder', 60_000)).toBe(false);
    expect(await deliveries.reschedule(id, 'intruder', new Date(), 'not mine')).toBe(false);
    expect(await deliveries.reschedule(id, 'w', new Date(Date.now() + 3_600_000), 'boom')).toBe(true);
    expect(await deliveries.claim('w', 1, 30_000)).toEqual([]);
    // An hour later (the clock moved by hand):
    await ds.query(`UPDATE deliveries SET run_at = now() WHERE id = $1`, [id]);
    const [again] = await deliveries.claim('w', 1, 30_000);
    expect(again).toMatchObject({ id, attempts: 2, recovered: false });
    expect(await deliveries.fail(id, 'intruder', 'not mine', 'failed')).toBe(false);
    expect(await deliveries.fail(id, 'w', 'gave up', 'failed')).toBe(true);
    expect(await row('deliveries', id)).toMatchObject({ status: 'failed', last_error: 'gave up', locked_by: null });
    expect(await deliveries.claim('w', 1, 30_000)).toEqual([]);
  });

  it('wakes an idle worker at once when an event is published or a task is run, instead of waiting for the poll', async () => {
    const handled: string[] = [];
    let emptyClaims = 0;
    /** A worker on `queue` that polls once an hour, and counts its empty claims (from the first, it sleeps). */
    const idleWorker = (queue: WorkQueue) => {
      const counted = Object.create(queue) as WorkQueue;
      counted.claim = async (workerId: string, limit: number, leaseMs: number) => {
        const rows = await queue.claim(workerId, limit, leaseMs);
        if (!rows.length) emptyClaims++;
        return rows;
      };
      return new QueueWorker(counted, async (r: ClaimedRow) => void handled.push(r.id), {
        concurrency: 1,
        leaseMs: 30_000,
        pollIntervalMs: 3_600_000,
      });
    };
    const p = await create<{ id: string }>(t, admin, '/api/programs', {
      name: `woken-${++seq}`,
      command: program('sync.sh'),
      args: ['x'],
    });
    const w = await create<{ id: string }>(t, admin, '/api/webhooks', {
      url: 'http://127.0.0.1:9/woken',
      events: ['woken.*'],
    });
    const workers = [idleWorker(deliveries), idleWorker(tasks)];
    workers.forEach((x) => x.start());
    try {
      await until(() => emptyClaims >= 2, 'the first (empty) claims');
      await t.request({ method: 'POST', url: '/api/events', token: admin, body: { type: 'woken.up', data: {} } });
      const [delivery] = (await ds.query(`SELECT id FROM deliveries WHERE webhook_id = $1`, [w.id])) as Array<{
        id: string;
      }>;
      const run = await t.request<{ id: string }>({
        method: 'POST',
        url: `/api/programs/${p.id}/run`,
        token: admin,
        body: {},
      });
      // The polls are an hour away: only the wake-ups of the publish and the run can hand them over.
      await until(() => handled.length === 2, 'the wake-ups', 15_000);
      expect(handled.sort()).toEqual([delivery.id, run.json.id].sort());
    } finally {
      await Promise.all(workers.map((x) => x.stop()));
    }
  });

  it('runs at most `concurrency` handlers at once, and on stop claims nothing more and waits for those in flight', async () => {
    const ids = await queuedDeliveries(12);
    let active = 0;
    let peak = 0;
    const started: string[] = [];
    const finished: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const worker = new QueueWorker(
      deliveries,
      async (r: ClaimedRow, workerId: string) => {
        started.push(r.id);
        active++;
        peak = Math.max(peak, active);
        // The first three wait for the gate; the rest are quick.
        if (started.length <= 3) await gate;
        else await sleep(20);
        active--;
        await deliveries.complete(r.id, workerId, 'succeeded');
        finished.push(r.id);
      },
      { concurrency: 3, leaseMs: 10_000, pollIntervalMs: 20 },
    );
    worker.start();
    await until(() => started.length === 3, 'three handlers in flight');
    await sleep(100);
    // Full: no fourth row was claimed while three are in flight.
    expect([started.length, worker.busy]).toEqual([3, 3]);
    const stopped = worker.stop();
    let stoppedYet = false;
    void stopped.then(() => (stoppedYet = true));
    await sleep(100);
    expect(stoppedYet).toBe(false);
    release();
    await stopped;
    expect([started.length, finished.length, peak, worker.busy]).toEqual([3, 3, 3, 0]);
    const left = (await ds.query(
      `SELECT status, count(*)::int AS n FROM deliveries WHERE id = ANY($1::uuid[]) GROUP BY status ORDER BY status`,
      [ids],
    )) as Array<{ status: string; n: number }>;
    expect(left).toEqual([
      { status: 'queued', n: 9 },
      { status: 'succeeded', n: 3 },
    ]);
  });
});

/** The workers on those queues: retries wait as their policy says, and stop after the last attempt. */
describe('retries and attempt limits of the workers (e2e)', () => {
  let t: TestApp;
  let admin: string;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_QUEUE_POLL_MS: '100',
    });
    admin = await t.login();
    receiver = await Receiver.start(() => ({ status: 503, body: 'unavailable' }));
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.close();
  });

  it('retries a failing delivery on its schedule (with jitter), then fails it after the last attempt', async () => {
    const schedule = [1, 2];
    const w = await create<{ id: string }>(t, admin, '/api/webhooks', {
      url: receiver.url,
      events: ['backoff.*'],
      retry_schedule: schedule,
    });
    const published = await t.request<{ deliveries: number }>({
      method: 'POST',
      url: '/api/events',
      token: admin,
      body: { type: 'backoff.test', data: {} },
    });
    expect(published.json.deliveries).toBe(1);
    const [delivery] = await eventually(
      async () => {
        const list = (
          await t.request<{ items: Array<{ status: string; attempts: number; last_error: string }> }>({
            url: `/api/webhooks/${w.id}/deliveries`,
            token: admin,
          })
        ).json.items;
        return list[0]?.status === 'failed' ? list : undefined;
      },
      30_000,
      'the delivery to fail',
    );
    expect(delivery).toMatchObject({ status: 'failed', attempts: 3, last_error: 'HTTP 503: unavailable' });
    // One request per attempt, each retry no sooner than its scheduled wait less the jitter (20%).
    expect(receiver.received).toHaveLength(3);
    const at = receiver.received.map((r) => r.at);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(schedule[0] * 800 - 50);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(schedule[1] * 800 - 50);
    expect(receiver.received.map((r) => r.headers['x-hookhub-attempt'])).toEqual(['1', '2', '3']);
    const logs = (
      await t.request<{ items: Array<{ attempt: number; next_attempt_at: string | null }> }>({
        url: `/api/webhooks/${w.id}/logs`,
        token: admin,
      })
    ).json.items;
    expect(logs.sort((a, b) => a.attempt - b.attempt).map((a) => [a.attempt, a.next_attempt_at === null])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
  });

  it('retries a failing task run with doubling backoff, then stops at its attempt limit', async () => {
    const p = await create<{ id: string }>(t, admin, '/api/programs', {
      name: 'backoff',
      command: program('fail.sh'),
      args: ['5'],
      retry_max: 2,
      retry_backoff_seconds: 1,
    });
    const run = await t.request<{ id: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: admin,
      body: {},
    });
    const attempts: string[] = [run.json.id];
    type Run = {
      id: string;
      attempt: number;
      status: string;
      retry_of: string | null;
      run_at: string;
      started_at: string;
      finished_at: string;
      exit_code: number;
    };
    const all = await eventually(
      async () => {
        const items = (await t.request<{ items: Run[] }>({ url: `/api/tasks?program_id=${p.id}`, token: admin })).json
          .items;
        return items.length === 3 && items.every((x) => x.status === 'failed')
          ? items.sort((a, b) => a.attempt - b.attempt)
          : undefined;
      },
      30_000,
      'three failed attempts',
    );
    for (const r of all.slice(1)) attempts.push(r.id);
    expect(all.map((r) => [r.attempt, r.status, r.exit_code])).toEqual([
      [1, 'failed', 5],
      [2, 'failed', 5],
      [3, 'failed', 5],
    ]);
    expect(all.map((r) => r.retry_of)).toEqual([null, attempts[0], attempts[1]]);
    // Each retry is due its backoff after the failure it follows (1 s, then 2 s), and did not start before.
    for (const [i, wait] of [
      [1, 1000],
      [2, 2000],
    ] as const) {
      const waited = Date.parse(all[i].run_at) - Date.parse(all[i - 1].finished_at);
      expect([wait, waited >= wait && waited < wait + 1000]).toEqual([wait, true]);
      expect(Date.parse(all[i].started_at)).toBeGreaterThanOrEqual(Date.parse(all[i].run_at));
    }
    // The last attempt queued nothing more.
    await sleep(500);
    expect(
      (await t.request<{ total: number }>({ url: `/api/tasks?program_id=${p.id}`, token: admin })).json.total,
    ).toBe(3);
  });
});
