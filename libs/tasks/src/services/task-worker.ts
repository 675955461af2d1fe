import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, MetricsService, PROCESS_IDENTITY, type ProcessIdentity } from '@hookhub/core';
import { EventsService, HUB_PUBLISHER } from '@hookhub/outbound';
import {
  type ClaimedRow,
  Periodic,
  QueueWorker,
  STORE_OPTIONS,
  type StoreRuntimeOptions,
  untilStored,
} from '@hookhub/store';
import type { Program } from '../entities/program.entity';
import type { TaskStatus } from '../entities/task-run.entity';
import { forbiddenEnvName } from '../programs/forbidden-env';
import { ProcessRunner, type RunResult, type RunningProcess } from '../runner/process-runner';
import { retryRun } from '../runs/retry-run';
import { DEFAULT_QUEUE, type RunOutcome, TaskRunStore } from '../stores/task-run.store';
import { ProgramsService } from './programs.service';
import { TasksService } from './tasks.service';

/** The event each final status publishes; canceled runs publish none. */
const TASK_EVENT_TYPES: Partial<Record<TaskStatus, string>> = {
  succeeded: 'task.succeeded',
  failed: 'task.failed',
  timed_out: 'task.timed_out',
};

/** How often a running task's lease is renewed, its output flushed and its cancel flag read. */
const HEARTBEAT_MS = 1000;
/** Kept back from HOOKHUB_SHUTDOWN_TIMEOUT_MS, after the kill grace, to record the outcomes of ended runs. */
const SHUTDOWN_MARGIN_MS = 2000;
/** How often the worker lets go of parked runs whose rule no longer holds them (a program's limit was raised). */
const UNPARK_EVERY_MS = 15_000;

export const SHUTDOWN_REASON = 'the hub shut down while the task ran';

interface ActiveRun {
  process: RunningProcess;
  cancelReason?: string;
  /** A beat is on its way (beats do not pile up while the store is slow or down). */
  beating?: boolean;
  warned?: boolean;
  /** The process ended: a lost lease no longer cancels anything. */
  finished?: boolean;
}

export interface TaskRow extends ClaimedRow {
  program_id: string | null;
  program_name: string;
  argv: string[];
  env: Record<string, string>;
  attempt: number;
  max_attempts: number;
  trigger: string;
  receipt_id: string | null;
  source_id: string | null;
  rule_id: string | null;
  concurrency_key: string | null;
  triggered_by: string | null;
  /** The queue the run was claimed from (where a retry goes when its program is gone). */
  queue?: string;
}

/**
 * Claims task runs and executes them with the {@link ProcessRunner}. Runs in apps/api (default) or
 * apps/worker. A run whose worker vanished (lease expired) is marked failed with the reason and goes
 * through the retry policy; a run interrupted by shutdown likewise, so none is lost or left running.
 */
@Injectable()
export class TaskWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('TaskWorker');
  private worker?: QueueWorker;
  private readonly active = new Map<string, ActiveRun>();
  private unsubscribeCancel?: () => void;
  /** The parking safety net: runs held back by a rule that no longer holds them are let go (see unparkStale). */
  private readonly unparker = new Periodic(
    UNPARK_EVERY_MS,
    () => this.runs.unparkStale(),
    (err) => this.logger.warn(`could not unpark waiting runs: ${(err as Error).message}`),
  );
  private shuttingDown = false;
  /** The shutdown's drain time is over: outcome writes stop waiting for a store that is down. */
  private deadlinePassed = false;

  constructor(
    private readonly runs: TaskRunStore,
    private readonly tasks: TasksService,
    private readonly programs: ProgramsService,
    private readonly runner: ProcessRunner,
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(STORE_OPTIONS) private readonly storeOptions: StoreRuntimeOptions,
    /** The process's identity: runs are claimed under its id (absent in service tests: a random one). */
    @Inject(PROCESS_IDENTITY) private readonly identity?: ProcessIdentity,
  ) {}

  onApplicationBootstrap(): void {
    if (this.storeOptions.runWorkers) this.start();
  }

  start(): void {
    if (this.worker) return;
    // Only the queues this process takes (HOOKHUB_WORKER_QUEUES): other queues' runs wait for their own workers.
    const queue = this.runs.queueFor(this.config.queue.workerQueues);
    this.worker = new QueueWorker(queue, (row, workerId) => this.handle(row as TaskRow, workerId), {
      workerId: this.identity?.id,
      concurrency: this.config.tasks.concurrency,
      leaseMs: this.config.tasks.leaseMs,
      pollIntervalMs: Math.min(this.storeOptions.pollIntervalMs, 5000),
      onError: (err) => this.logger.error(`task worker: ${(err as Error).message}`),
    });
    // Also fired when the LISTEN connection comes back, possibly while the store is still down.
    this.unsubscribeCancel = this.runs.onCancel(() => {
      this.checkCancels().catch((err: unknown) =>
        this.logger.warn(`could not read cancel requests (the heartbeat reads them too): ${(err as Error).message}`),
      );
    });
    this.worker.start();
    this.unparker.start();
  }

  /** Runs in progress in this process (the worker heartbeat reports it). */
  get busy(): number {
    return this.worker?.busy ?? 0;
  }

  /**
   * Drains: no new run is claimed, running ones get until HOOKHUB_SHUTDOWN_TIMEOUT_MS (less the kill grace
   * and a margin to record outcomes) to finish with their real outcome; those still running then are ended
   * (SIGTERM, SIGKILL after the grace) and recorded failed with the reason, and retried by policy.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    if (!this.worker) return;
    const drainMs = Math.max(
      0,
      this.config.http.shutdownTimeoutMs - this.config.tasks.killGraceMs - SHUTDOWN_MARGIN_MS,
    );
    if (this.active.size)
      this.logger.log(`waiting up to ${drainMs} ms for ${this.active.size} running task(s) to finish`);
    const stopped = this.worker.stop();
    const deadline = setTimeout(() => {
      this.deadlinePassed = true;
      for (const run of this.active.values()) {
        run.cancelReason = SHUTDOWN_REASON;
        run.process.cancel();
      }
    }, drainMs);
    try {
      await stopped;
    } finally {
      clearTimeout(deadline);
      this.unsubscribeCancel?.();
      await this.unparker.stop();
      this.worker = undefined;
    }
  }

  /** Runs one claimed task run and records its outcome (the queue worker calls it for each claim). */
  async handle(row: TaskRow, workerId: string): Promise<void> {
    const program = row.program_id ? await this.programs.find(row.program_id).catch(() => null) : null;
    if (row.recovered) {
      await this.finish(row, workerId, 'failed', {
        error: 'the worker running this task stopped (hub restart or crash) before it finished',
        backoffSeconds: program?.retryBackoffSeconds,
        queue: program?.queue,
      });
      return;
    }
    if (!program || !program.enabled) {
      await this.finish(row, workerId, 'failed', {
        error: program ? `program ${program.name} is disabled` : 'the program was deleted',
        noRetry: true,
      });
      return;
    }
    const commandProblem = this.programs.commandProblem(program.command);
    if (commandProblem) {
      await this.finish(row, workerId, 'failed', { error: `the program cannot run: ${commandProblem}`, noRetry: true });
      return;
    }
    if (this.shuttingDown) {
      // Claimed as the hub began to shut down, before anything ran: back to the queue for the next worker.
      await this.runs.release(row.id, workerId);
      return;
    }
    const process = this.runner.start({
      command: program.command,
      args: row.argv,
      cwd: program.cwd ?? undefined,
      env: this.environment(program, row.env),
      timeoutMs: program.timeoutSeconds * 1000,
      outputCapBytes: program.outputCapBytes,
      killGraceMs: this.config.tasks.killGraceMs,
    });
    const active: ActiveRun = { process };
    this.active.set(row.id, active);
    // Beats until the outcome is recorded, so the lease holds while that write waits for a store that restarts.
    const heartbeat = setInterval(() => void this.heartbeat(row.id, workerId, active), HEARTBEAT_MS);
    let result: RunResult;
    try {
      result = await process.done;
    } finally {
      active.finished = true;
      this.active.delete(row.id);
    }
    // A run cut off by shutdown failed (and is retried by policy); one canceled on request was canceled.
    const status: TaskStatus = result.timedOut
      ? 'timed_out'
      : result.canceled
        ? this.shuttingDown
          ? 'failed'
          : 'canceled'
        : result.spawnError
          ? 'failed'
          : result.exitCode === 0
            ? 'succeeded'
            : 'failed';
    const error = result.timedOut
      ? `timed out after ${program.timeoutSeconds} s`
      : result.canceled
        ? (active.cancelReason ?? 'canceled')
        : result.spawnError
          ? `could not start: ${result.spawnError}`
          : result.exitCode !== 0
            ? result.signal
              ? `killed by ${result.signal}`
              : `exited with code ${result.exitCode}`
            : null;
    try {
      await this.finish(row, workerId, status, {
        result,
        error,
        backoffSeconds: program.retryBackoffSeconds,
        queue: program.queue,
      });
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * The process env: allow-listed names from the hub's environment, then fixed values, then the trigger's
   * values. The hub's own secrets never pass, even for a program saved before they were refused.
   */
  private environment(program: Program, fromTrigger: Record<string, string>): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of program.envAllow) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    Object.assign(env, this.programs.openEnv(program));
    for (const [name, value] of Object.entries(fromTrigger)) {
      if (program.envAllow.includes(name)) env[name] = value;
    }
    for (const name of Object.keys(env)) if (forbiddenEnvName(name)) delete env[name];
    return env;
  }

  private async heartbeat(id: string, workerId: string, active: ActiveRun): Promise<void> {
    if (active.beating) return;
    active.beating = true;
    try {
      const beat = await this.runs.heartbeat(id, workerId, this.config.tasks.leaseMs, active.process.snapshot());
      if (!beat) {
        if (active.finished) return;
        active.cancelReason = 'the lease on this run was lost to another worker';
        active.process.cancel();
      } else if (beat.cancelRequestedAt && active.cancelReason === undefined) {
        active.cancelReason = beat.lastError ?? 'canceled';
        active.process.cancel();
      }
    } catch (err) {
      // While the store is down every beat fails; one line per run is enough.
      if (!active.warned) this.logger.warn(`heartbeat of task ${id} failed: ${(err as Error).message}`);
      active.warned = true;
    } finally {
      active.beating = false;
    }
  }

  private async checkCancels(): Promise<void> {
    const ids = [...this.active.keys()];
    if (!ids.length) return;
    for (const row of await this.runs.cancelRequests(ids)) {
      const active = this.active.get(row.id);
      if (active && active.cancelReason === undefined) {
        active.cancelReason = row.lastError ?? 'canceled';
        active.process.cancel();
      }
    }
  }

  /** Records the outcome under the lease and, for failures with attempts left, enqueues the retry. */
  private async finish(
    row: TaskRow,
    workerId: string,
    status: TaskStatus,
    outcome: {
      result?: RunResult;
      error: string | null;
      backoffSeconds?: number;
      noRetry?: boolean;
      /** The program's queue, where the retry goes (the run's own when the program is gone). */
      queue?: string;
    },
  ): Promise<void> {
    const r = outcome.result;
    const retry = !outcome.noRetry && (status === 'failed' || status === 'timed_out') && row.attempt < row.max_attempts;
    let retryId: string | null = null;
    let published = 0;
    const recorded: RunOutcome = {
      status,
      exitCode: r?.exitCode ?? null,
      signal: r?.signal ?? null,
      durationMs: r?.durationMs ?? null,
      stdout: r?.stdout ?? null,
      stderr: r?.stderr ?? null,
      stdoutBytes: r?.stdoutBytes ?? null,
      stderrBytes: r?.stderrBytes ?? null,
      error: outcome.error,
    };
    // The outcome is the one write that must land: retried while the store restarts (the heartbeat keeps the
    // lease meanwhile), so a run that finished is never recorded as lost. Under the lease, a retry after a
    // commit whose answer was lost updates nothing and publishes nothing twice.
    await untilStored(
      () => {
        retryId = null;
        published = 0;
        return this.runs.finish(row.id, workerId, recorded, async (m) => {
          if (retry && row.program_id) {
            const next = retryRun(
              row,
              {
                program_id: row.program_id,
                program_name: row.program_name,
                queue: outcome.queue ?? row.queue ?? DEFAULT_QUEUE,
              },
              'retry policy',
            );
            next.attempt = row.attempt + 1;
            next.max_attempts = row.max_attempts;
            next.delay_seconds = (outcome.backoffSeconds ?? 30) * 2 ** (row.attempt - 1);
            retryId = next.id;
            await this.tasks.insert(m, [next]);
          }
          const type = TASK_EVENT_TYPES[status];
          if (type) {
            // Committed with the outcome, so a subscriber never misses a run that finished.
            const event = await this.events.publishWithin(m, {
              type,
              data: {
                task_id: row.id,
                program_id: row.program_id,
                program_name: row.program_name,
                status,
                exit_code: r?.exitCode ?? null,
                signal: r?.signal ?? null,
                duration_ms: r?.durationMs ?? null,
                error: outcome.error,
                attempt: row.attempt,
                max_attempts: row.max_attempts,
                retry_id: retryId,
                trigger: row.trigger,
                source_id: row.source_id,
                receipt_id: row.receipt_id,
                stderr_tail: r ? r.stderr.slice(-1024) : null,
              },
              publishedBy: HUB_PUBLISHER,
            });
            published = event.deliveries;
          }
        });
      },
      {
        what: `the outcome of task ${row.id}`,
        onDown: (err) =>
          this.logger.warn(
            `the store is unavailable (${(err as Error).message}); task ${row.id} ${status}, recording its outcome once the store is back`,
          ),
        onBack: (ms) => this.logger.log(`recorded the outcome of task ${row.id} after waiting ${ms} ms for the store`),
        giveUp: () => this.deadlinePassed,
      },
    );
    const labels = { program: row.program_name, outcome: status };
    this.metrics.taskRuns.inc(labels);
    if (r) this.metrics.taskRunDuration.observe(labels, r.durationMs / 1000);
    await this.runs.notifyDone();
    if (retryId) await this.tasks.wake();
    if (published) await this.events.wake();
    this.logger.log({
      msg: 'task finished',
      taskId: row.id,
      program: row.program_name,
      status,
      error: outcome.error,
      retryId,
    });
  }
}
