import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { type ProcessIdentity, loadConfig } from '@hookhub/core';
import type { DeliveryWorker } from '@hookhub/outbound';
import type { StoreRuntimeOptions } from '@hookhub/store';
import type { QueueBacklog, TaskRunStore } from '../stores/task-run.store';
import type { WorkerBeat, WorkerRow, WorkerStore } from '../stores/worker.store';
import type { TaskWorker } from './task-worker';
import { WorkerHeartbeat } from './worker-heartbeat';
import { WorkersService } from './workers.service';

/** The worker heartbeat and the workers list with a fake store: no database. */

const config = loadConfig({
  NODE_ENV: 'test',
  HOOKHUB_DATA_DIR: '/nonexistent/hookhub-unit',
  HOOKHUB_JWT_SECRET: 'x'.repeat(32),
  HOOKHUB_MASTER_KEY: '0'.repeat(64),
  HOOKHUB_WORKER_QUEUES: 'backup,deploy',
  HOOKHUB_WORKER_HEARTBEAT_SECONDS: '2',
});
const identity: ProcessIdentity = {
  id: 'nas-01:4711:9f3c2a1b',
  hostname: 'nas-01',
  pid: 4711,
  version: '1.2.3',
  startedAt: new Date('2026-12-01T08:00:00Z'),
};

class FakeWorkerStore implements Pick<WorkerStore, 'beat' | 'markStopped' | 'deleteGoneFor' | 'list' | 'servedQueues'> {
  readonly beats: WorkerBeat[] = [];
  readonly stopped: string[] = [];
  readonly deletes: number[] = [];
  readonly reads: Array<[string, ...number[]]> = [];
  down = false;
  /** markStopped never answers (a store that hangs). */
  hang = false;
  beat(w: WorkerBeat): Promise<void> {
    if (this.down) return Promise.reject(new Error('connection refused'));
    this.beats.push({ ...w });
    return Promise.resolve();
  }
  markStopped(id: string): Promise<void> {
    if (this.hang) return new Promise(() => undefined);
    this.stopped.push(id);
    return Promise.resolve();
  }
  deleteGoneFor(seconds: number): Promise<number> {
    this.deletes.push(seconds);
    return Promise.resolve(0);
  }
  list(liveSeconds: number, recentSeconds: number): Promise<WorkerRow[]> {
    this.reads.push(['list', liveSeconds, recentSeconds]);
    return Promise.resolve([
      {
        id: identity.id,
        hostname: 'nas-01',
        pid: 4711,
        version: '1.2.3',
        queues: ['backup'],
        started_at: new Date('2026-12-01T08:00:00Z'),
        last_seen: new Date('2026-12-01T09:00:00Z'),
        running_tasks: 2,
        running_deliveries: 0,
        stopped_at: null,
        live: true,
      },
    ]);
  }
  servedQueues(liveSeconds: number): Promise<string[]> {
    this.reads.push(['served', liveSeconds]);
    return Promise.resolve(['backup']);
  }
}

function setup(runWorkers = true) {
  const store = new FakeWorkerStore();
  const busy = { tasks: 0, deliveries: 0 };
  const heartbeat = new WorkerHeartbeat(
    store as unknown as WorkerStore,
    {
      get busy() {
        return busy.tasks;
      },
    } as unknown as TaskWorker,
    {
      get busy() {
        return busy.deliveries;
      },
    } as unknown as DeliveryWorker,
    identity,
    config,
    { pollIntervalMs: 1000, runWorkers } satisfies StoreRuntimeOptions,
  );
  return { store, busy, heartbeat };
}

beforeAll(() => Logger.overrideLogger(false));
afterEach(() => jest.useRealTimers());

describe('WorkerHeartbeat', () => {
  it('registers the process at boot, beats every interval with its busy counts, and marks it stopped', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { store, busy, heartbeat } = setup();
    await heartbeat.onApplicationBootstrap();
    expect(store.beats).toEqual([
      {
        id: identity.id,
        hostname: 'nas-01',
        pid: 4711,
        version: '1.2.3',
        queues: ['backup', 'deploy'],
        startedAt: identity.startedAt,
        runningTasks: 0,
        runningDeliveries: 0,
      },
    ]);
    // Rows of processes gone for a day are forgotten.
    expect(store.deletes).toEqual([86_400]);

    busy.tasks = 3;
    busy.deliveries = 5;
    await jest.advanceTimersByTimeAsync(2000);
    expect(store.beats).toHaveLength(2);
    expect(store.beats[1]).toMatchObject({ runningTasks: 3, runningDeliveries: 5 });

    await heartbeat.beforeApplicationShutdown();
    expect(store.stopped).toEqual([identity.id]);
    // No beat after the shutdown (it would make the process look alive again).
    await jest.advanceTimersByTimeAsync(10_000);
    expect(store.beats).toHaveLength(2);
  });

  it('does nothing in a process that runs no workers', async () => {
    const { store, heartbeat } = setup(false);
    await heartbeat.onApplicationBootstrap();
    await heartbeat.beforeApplicationShutdown();
    expect([store.beats, store.stopped]).toEqual([[], []]);
  });

  it('keeps beating through a store outage without throwing', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { store, heartbeat } = setup();
    store.down = true;
    await expect(heartbeat.onApplicationBootstrap()).resolves.toBeUndefined();
    await jest.advanceTimersByTimeAsync(4000);
    expect(store.beats).toEqual([]);
    store.down = false;
    await jest.advanceTimersByTimeAsync(2000);
    expect(store.beats).toHaveLength(1);
    await heartbeat.beforeApplicationShutdown();
  });

  it('does not let a store that never answers hold up the shutdown', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { store, heartbeat } = setup();
    await heartbeat.onApplicationBootstrap();
    store.hang = true;
    let done = false;
    const shutdown = heartbeat.beforeApplicationShutdown().then(() => (done = true));
    await jest.advanceTimersByTimeAsync(1000);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1000);
    await shutdown;
    expect(done).toBe(true);
  });
});

describe('WorkersService', () => {
  it('calls a worker live within 3 heartbeats, lists the last hour, and reports unserved queues', async () => {
    const store = new FakeWorkerStore();
    const backlogAsked: Array<readonly string[]> = [];
    const runs: Pick<TaskRunStore, 'queuedPerQueue'> = {
      queuedPerQueue: (except: readonly string[]): Promise<QueueBacklog[]> => {
        backlogAsked.push(except);
        return Promise.resolve([{ queue: 'deploy', queued: 3, oldest_due_age_seconds: 12.3456 }]);
      },
    };
    const answer = await new WorkersService(store as unknown as WorkerStore, runs as TaskRunStore, config).list();
    expect(store.reads).toEqual([
      ['list', 6, 3600],
      ['served', 6],
    ]);
    // The queues some live worker takes are left out of the backlog asked for.
    expect(backlogAsked).toEqual([['backup']]);
    expect(answer).toEqual({
      workers: [
        {
          id: identity.id,
          hostname: 'nas-01',
          pid: 4711,
          version: '1.2.3',
          queues: ['backup'],
          started_at: '2026-12-01T08:00:00.000Z',
          last_seen: '2026-12-01T09:00:00.000Z',
          live: true,
          running_tasks: 2,
          running_deliveries: 0,
          stopped_at: null,
        },
      ],
      queues_without_workers: [{ queue: 'deploy', queued: 3, oldest_due_age_seconds: 12.3 }],
    });
  });
});
