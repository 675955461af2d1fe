import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { MetricsService, loadConfig } from '@hookhub/core';
import type { EventInput, EventsService, PublishedEventDto } from '@hookhub/outbound';
import type { StoreRuntimeOptions } from '@hookhub/store';
import { Program } from '../entities/program.entity';
import type { ProcessRunner, RunResult, RunSpec, RunningProcess } from '../runner/process-runner';
import type { BeatAnswer, OutputSnapshot, PreparedRun, RunOutcome, TaskRunStore } from '../stores/task-run.store';
import type { ProgramsService } from './programs.service';
import { TaskWorker, type TaskRow } from './task-worker';
import type { TasksService } from './tasks.service';

/** The task worker with fakes for the process runner and the store: no database, no child process. */

const config = loadConfig({
  NODE_ENV: 'test',
  HOOKHUB_DATA_DIR: '/nonexistent/hookhub-unit',
  HOOKHUB_JWT_SECRET: 'x'.repeat(32),
  HOOKHUB_MASTER_KEY: '0'.repeat(64),
  HOOKHUB_TASK_KILL_GRACE_MS: '1500',
  HOOKHUB_TASK_LEASE_MS: '20000',
});
const storeOptions: StoreRuntimeOptions = { pollIntervalMs: 3_600_000, runWorkers: false };
const WORKER = 'worker-1';
/** The transaction the outcome is recorded in; the retry and the event must be written in the same one. */
const MANAGER = { transaction: 'outcome' } as unknown as EntityManager;
const TIMEOUT_S = 5;
const BACKOFF_S = 20;

/** How a fake process ends: at once with this result, or only when canceled or timed out (`hang`). */
type Script = Partial<RunResult> | 'hang';

/** Behaves as the runner promises: ends the run at its timeout (timed out, SIGTERM) or on cancel. */
class FakeProcess implements RunningProcess {
  readonly pid = 4242;
  get exited(): boolean {
    return this.endedAt !== null;
  }
  cancels = 0;
  endedAt: number | null = null;
  readonly done: Promise<RunResult>;
  private resolve!: (result: RunResult) => void;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly spec: RunSpec,
    script: Script,
  ) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
    this.timer = setTimeout(() => this.end({ timedOut: true, exitCode: null, signal: 'SIGTERM' }), spec.timeoutMs);
    if (script !== 'hang') this.end(script);
  }

  cancel(): void {
    this.cancels++;
    this.end({ canceled: true, exitCode: null, signal: 'SIGTERM' });
  }

  snapshot(): OutputSnapshot {
    return { stdout: 'half way', stderr: '', stdoutBytes: 8, stderrBytes: 0 };
  }

  private end(result: Partial<RunResult>): void {
    if (this.endedAt !== null) return;
    this.endedAt = Date.now();
    clearTimeout(this.timer);
    this.resolve({
      exitCode: 0,
      signal: null,
      timedOut: false,
      canceled: false,
      spawnError: null,
      stdout: 'out',
      stderr: 'err',
      stdoutBytes: 3,
      stderrBytes: 3,
      startedAt: new Date(0),
      finishedAt: new Date(1234),
      durationMs: 1234,
      ...result,
    });
  }
}

class FakeRunner implements Pick<ProcessRunner, 'start'> {
  readonly processes: FakeProcess[] = [];
  script: Script = {};
  private onStart!: () => void;
  readonly started = new Promise<void>((resolve) => (this.onStart = resolve));

  start(spec: RunSpec): RunningProcess {
    const process = new FakeProcess(spec, this.script);
    this.processes.push(process);
    this.onStart();
    return process;
  }
}

class FakeRunsStore implements Pick<
  TaskRunStore,
  'heartbeat' | 'cancelRequests' | 'finish' | 'release' | 'notifyDone'
> {
  readonly beats: Array<{ id: string; workerId: string; leaseMs: number; snap: OutputSnapshot }> = [];
  readonly outcomes: Array<{ id: string; workerId: string; outcome: RunOutcome }> = [];
  readonly released: string[] = [];
  doneNotices = 0;
  beatAnswer: BeatAnswer | null = { cancelRequestedAt: null, lastError: null };
  leaseHeld = true;
  /** Times `finish` fails as when the store is unreachable, before it works. */
  storeDown = 0;
  finishCalls = 0;

  heartbeat(id: string, workerId: string, leaseMs: number, snap: OutputSnapshot): Promise<BeatAnswer | null> {
    this.beats.push({ id, workerId, leaseMs, snap });
    return Promise.resolve(this.beatAnswer);
  }

  cancelRequests(): Promise<Array<{ id: string; lastError: string | null }>> {
    return Promise.resolve([]);
  }

  async finish(
    id: string,
    workerId: string,
    outcome: RunOutcome,
    then: (m: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    this.finishCalls++;
    if (this.storeDown > 0) {
      this.storeDown--;
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    }
    if (!this.leaseHeld) return false;
    this.outcomes.push({ id, workerId, outcome });
    await then(MANAGER);
    return true;
  }

  release(id: string): Promise<boolean> {
    this.released.push(id);
    return Promise.resolve(true);
  }

  notifyDone(): Promise<void> {
    this.doneNotices++;
    return Promise.resolve();
  }
}

class FakeTasks implements Pick<TasksService, 'insert' | 'wake'> {
  readonly inserted: Array<{ m: EntityManager; runs: readonly PreparedRun[] }> = [];
  wakes = 0;
  insert(m: EntityManager, runs: readonly PreparedRun[]): Promise<void> {
    this.inserted.push({ m, runs });
    return Promise.resolve();
  }
  wake(): Promise<void> {
    this.wakes++;
    return Promise.resolve();
  }
}

class FakeEvents implements Pick<EventsService, 'publishWithin' | 'wake'> {
  readonly published: Array<{ m: EntityManager; input: EventInput }> = [];
  wakes = 0;
  publishWithin(m: EntityManager, input: EventInput): Promise<PublishedEventDto> {
    this.published.push({ m, input });
    return Promise.resolve({ id: `event-${this.published.length}`, type: input.type, deliveries: 1, duplicate: false });
  }
  wake(): Promise<void> {
    this.wakes++;
    return Promise.resolve();
  }
}

class FakePrograms implements Pick<ProgramsService, 'find' | 'commandProblem' | 'openEnv'> {
  problem: string | null = null;
  constructor(public program: Program | null) {}
  find(): Promise<Program> {
    return this.program ? Promise.resolve(this.program) : Promise.reject(new Error('not found'));
  }
  commandProblem(): string | null {
    return this.problem;
  }
  openEnv(): Record<string, string> {
    return { FIXED: 'yes' };
  }
}

function program(overrides: Partial<Program> = {}): Program {
  return Object.assign(new Program(), {
    id: 'prog-1',
    name: 'backup',
    command: '/opt/hookhub/backup.sh',
    cwd: '/srv/backup',
    envAllow: ['TARGET', 'HOOKHUB_MASTER_KEY'],
    timeoutSeconds: TIMEOUT_S,
    outputCapBytes: 4096,
    retryBackoffSeconds: BACKOFF_S,
    enabled: true,
    ...overrides,
  });
}

function taskRow(overrides: Partial<TaskRow> = {}): TaskRow {
  return {
    id: 'run-1',
    attempts: 1,
    recovered: false,
    program_id: 'prog-1',
    program_name: 'backup',
    argv: ['--full', 'db'],
    // The program allows TARGET (and, wrongly, a hub secret); NOT_ALLOWED is not on its list.
    env: { TARGET: 'db', HOOKHUB_MASTER_KEY: 'stolen', NOT_ALLOWED: 'x' },
    attempt: 1,
    max_attempts: 3,
    trigger: 'receipt',
    receipt_id: 'receipt-1',
    source_id: 'source-1',
    rule_id: 'rule-1',
    concurrency_key: null,
    triggered_by: null,
    ...overrides,
  };
}

function setup(prog: Program | null = program()) {
  const runs = new FakeRunsStore();
  const tasks = new FakeTasks();
  const programs = new FakePrograms(prog);
  const runner = new FakeRunner();
  const events = new FakeEvents();
  const worker = new TaskWorker(
    runs as unknown as TaskRunStore,
    tasks as unknown as TasksService,
    programs as unknown as ProgramsService,
    runner as unknown as ProcessRunner,
    events as unknown as EventsService,
    new MetricsService(),
    config,
    storeOptions,
  );
  return { runs, tasks, programs, runner, events, worker };
}

beforeAll(() => Logger.overrideLogger(false));
afterEach(() => jest.useRealTimers());

describe('TaskWorker (service test with fakes)', () => {
  it('runs the program with its argv, allowed env and limits, and records a success', async () => {
    const { worker, runner, runs, tasks, events } = setup();
    runner.script = { exitCode: 0, stdout: 'backed up', durationMs: 1234 };
    await worker.handle(taskRow(), WORKER);

    expect(runner.processes).toHaveLength(1);
    expect(runner.processes[0].spec).toMatchObject({
      command: '/opt/hookhub/backup.sh',
      args: ['--full', 'db'],
      cwd: '/srv/backup',
      timeoutMs: TIMEOUT_S * 1000,
      outputCapBytes: 4096,
      killGraceMs: 1500,
    });
    // Fixed values, then the trigger's allowed names; never the hub's own secrets.
    expect(runner.processes[0].spec.env).toEqual({ FIXED: 'yes', TARGET: 'db' });
    expect(runs.outcomes).toEqual([
      {
        id: 'run-1',
        workerId: WORKER,
        outcome: {
          status: 'succeeded',
          exitCode: 0,
          signal: null,
          durationMs: 1234,
          stdout: 'backed up',
          stderr: 'err',
          stdoutBytes: 3,
          stderrBytes: 3,
          error: null,
        },
      },
    ]);
    expect(tasks.inserted).toEqual([]);
    expect(events.published).toHaveLength(1);
    expect(events.published[0].m).toBe(MANAGER);
    expect(events.published[0].input).toMatchObject({
      type: 'task.succeeded',
      publishedBy: 'hookhub',
      data: {
        task_id: 'run-1',
        program_id: 'prog-1',
        status: 'succeeded',
        exit_code: 0,
        error: null,
        attempt: 1,
        max_attempts: 3,
        retry_id: null,
        receipt_id: 'receipt-1',
      },
    });
    expect(runs.doneNotices).toBe(1);
    expect(events.wakes).toBe(1);
    expect(tasks.wakes).toBe(0);
  });

  it("records a non-zero exit as failed and enqueues the retry with the program's backoff, in the same transaction", async () => {
    const { worker, runner, runs, tasks, events } = setup();
    runner.script = { exitCode: 3, stderr: 'disk full' };
    await worker.handle(taskRow(), WORKER);

    expect(runs.outcomes[0].outcome).toMatchObject({ status: 'failed', exitCode: 3, error: 'exited with code 3' });
    expect(tasks.inserted).toHaveLength(1);
    expect(tasks.inserted[0].m).toBe(MANAGER);
    const [retry] = tasks.inserted[0].runs;
    expect(retry).toMatchObject({
      retry_of: 'run-1',
      trigger: 'retry',
      triggered_by: 'retry policy',
      program_id: 'prog-1',
      attempt: 2,
      max_attempts: 3,
      delay_seconds: BACKOFF_S,
      argv: ['--full', 'db'],
      receipt_id: 'receipt-1',
      rule_id: 'rule-1',
    });
    expect(events.published[0].m).toBe(MANAGER);
    expect(events.published[0].input).toMatchObject({
      type: 'task.failed',
      data: { status: 'failed', exit_code: 3, retry_id: retry.id, stderr_tail: 'disk full' },
    });
    expect(tasks.wakes).toBe(1);
  });

  it('doubles the backoff at each attempt and stops retrying after the last one', async () => {
    const { worker, runner, tasks, events } = setup();
    runner.script = { exitCode: 1 };
    await worker.handle(taskRow({ id: 'run-2', attempt: 2 }), WORKER);
    await worker.handle(taskRow({ id: 'run-3', attempt: 3 }), WORKER);

    expect(tasks.inserted.map((i) => i.runs.map((r) => [r.retry_of, r.attempt, r.delay_seconds]))).toEqual([
      [['run-2', 3, BACKOFF_S * 2]],
    ]);
    expect(events.published.map((p) => p.input.data.retry_id === null)).toEqual([false, true]);
    expect(tasks.wakes).toBe(1);
  });

  it('records a process killed by a signal, and one that could not start, as failed', async () => {
    const { worker, runner, runs } = setup();
    runner.script = { exitCode: null, signal: 'SIGKILL' };
    await worker.handle(taskRow({ id: 'run-k' }), WORKER);
    runner.script = { exitCode: null, spawnError: 'spawn /opt/hookhub/backup.sh ENOENT' };
    await worker.handle(taskRow({ id: 'run-s' }), WORKER);
    expect(runs.outcomes.map((o) => [o.id, o.outcome.status, o.outcome.error])).toEqual([
      ['run-k', 'failed', 'killed by SIGKILL'],
      ['run-s', 'failed', 'could not start: spawn /opt/hookhub/backup.sh ENOENT'],
    ]);
  });

  it("ends a run at its program's timeout and records timed_out, retried by policy", async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { worker, runner, runs, tasks, events } = setup();
    runner.script = 'hang';
    const done = worker.handle(taskRow(), WORKER);
    await runner.started;
    const startedAt = Date.now();

    await jest.advanceTimersByTimeAsync(TIMEOUT_S * 1000 - 1);
    expect(runs.outcomes).toEqual([]);
    // Meanwhile the lease was renewed and the output flushed every second.
    expect(runs.beats.length).toBe(TIMEOUT_S - 1);
    expect(runs.beats[0]).toEqual({
      id: 'run-1',
      workerId: WORKER,
      leaseMs: 20_000,
      snap: { stdout: 'half way', stderr: '', stdoutBytes: 8, stderrBytes: 0 },
    });

    await jest.advanceTimersByTimeAsync(1);
    await done;
    expect(runner.processes[0].endedAt! - startedAt).toBe(TIMEOUT_S * 1000);
    expect(runs.outcomes[0].outcome).toMatchObject({
      status: 'timed_out',
      signal: 'SIGTERM',
      error: `timed out after ${TIMEOUT_S} s`,
    });
    expect(events.published[0].input).toMatchObject({ type: 'task.timed_out' });
    expect(tasks.inserted[0].runs[0]).toMatchObject({ attempt: 2, delay_seconds: BACKOFF_S });
    // The heartbeat stopped with the run.
    const beats = runs.beats.length;
    await jest.advanceTimersByTimeAsync(5000);
    expect(runs.beats.length).toBe(beats);
  });

  it('stops a run whose cancel was requested (read by the heartbeat) and records it canceled, with no retry or event', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { worker, runner, runs, tasks, events } = setup();
    runner.script = 'hang';
    const done = worker.handle(taskRow(), WORKER);
    await runner.started;

    await jest.advanceTimersByTimeAsync(1000);
    expect(runner.processes[0].cancels).toBe(0);
    runs.beatAnswer = { cancelRequestedAt: new Date(), lastError: 'canceled by alice' };
    await jest.advanceTimersByTimeAsync(1000);
    await done;

    expect(runner.processes[0].cancels).toBe(1);
    expect(runs.outcomes[0].outcome).toMatchObject({ status: 'canceled', error: 'canceled by alice' });
    expect(tasks.inserted).toEqual([]);
    expect(events.published).toEqual([]);
    expect(runs.doneNotices).toBe(1);
  });

  it("stops a run whose lease went to another worker, and writes nothing over that worker's run", async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { worker, runner, runs, tasks, events } = setup();
    runner.script = 'hang';
    const done = worker.handle(taskRow(), WORKER);
    await runner.started;
    runs.beatAnswer = null;
    runs.leaseHeld = false;
    await jest.advanceTimersByTimeAsync(1000);
    await done;

    expect(runner.processes[0].cancels).toBe(1);
    expect(runs.finishCalls).toBe(1);
    expect(runs.outcomes).toEqual([]);
    expect(tasks.inserted).toEqual([]);
    expect(events.published).toEqual([]);
  });

  it('keeps trying to record an outcome while the store is unreachable, then records it once', async () => {
    const { worker, runner, runs, events } = setup();
    runner.script = { exitCode: 0 };
    runs.storeDown = 1;
    await worker.handle(taskRow(), WORKER);
    expect(runs.finishCalls).toBe(2);
    expect(runs.outcomes).toHaveLength(1);
    expect(events.published).toHaveLength(1);
  });

  it('fails a run of a disabled, deleted or unrunnable program without starting it or retrying it', async () => {
    const disabled = setup(program({ enabled: false }));
    await disabled.worker.handle(taskRow(), WORKER);
    const deleted = setup(null);
    await deleted.worker.handle(taskRow(), WORKER);
    const unrunnable = setup();
    unrunnable.programs.problem = '/opt/hookhub/backup.sh is not executable';
    await unrunnable.worker.handle(taskRow(), WORKER);

    for (const [ctx, error] of [
      [disabled, 'program backup is disabled'],
      [deleted, 'the program was deleted'],
      [unrunnable, 'the program cannot run: /opt/hookhub/backup.sh is not executable'],
    ] as const) {
      expect(ctx.runner.processes).toEqual([]);
      expect(ctx.runs.outcomes[0].outcome).toMatchObject({ status: 'failed', error, exitCode: null });
      expect(ctx.tasks.inserted).toEqual([]);
      expect(ctx.events.published[0].input).toMatchObject({ type: 'task.failed', data: { retry_id: null } });
    }
  });

  it('fails a run taken over from a vanished worker, without running it, and retries it by policy', async () => {
    const { worker, runner, runs, tasks } = setup();
    await worker.handle(taskRow({ recovered: true }), WORKER);
    expect(runner.processes).toEqual([]);
    expect(runs.outcomes[0].outcome).toMatchObject({
      status: 'failed',
      error: 'the worker running this task stopped (hub restart or crash) before it finished',
    });
    expect(tasks.inserted[0].runs[0]).toMatchObject({ attempt: 2, delay_seconds: BACKOFF_S });
  });

  it('puts back a run claimed while the hub shuts down, untouched', async () => {
    const { worker, runner, runs } = setup();
    await worker.beforeApplicationShutdown();
    await worker.handle(taskRow(), WORKER);
    expect(runner.processes).toEqual([]);
    expect(runs.released).toEqual(['run-1']);
    expect(runs.finishCalls).toBe(0);
  });
});
