import { Injectable, type MessageEvent } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import { type CompiledTemplate, HookhubError, type Page, compileTemplate, createdBetween, isUuid, paginate, renderArgs, renderEnv } from '@hookhub/core';
import { QueueNotifier } from '@hookhub/store';
import type { ListTasksQueryDto, TaskRunDetailDto, TaskRunDto } from '../dto/tasks.dto';
import type { Program } from '../entities/program.entity';
import { FINAL_STATUSES, TaskRun, type TaskTrigger } from '../entities/task-run.entity';
import { ProgramsService } from './programs.service';
import { TASKS_DONE, TaskQueue } from './task-queue';

/** A run ready to insert, rendered from a program, optional rule templates and the trigger context. */
export interface PreparedRun {
  id: string;
  program_id: string;
  program_name: string;
  trigger: TaskTrigger;
  receipt_id: string | null;
  source_id: string | null;
  rule_id: string | null;
  retry_of: string | null;
  triggered_by: string | null;
  attempt: number;
  max_attempts: number;
  argv: string[];
  env: Record<string, string>;
  concurrency_key: string | null;
  /** Start this many seconds from now (retries with backoff); now when absent. */
  delay_seconds?: number;
}

/** The fields a retry copies from the run it repeats. */
interface RunToRepeat {
  id: string;
  receipt_id: string | null;
  source_id: string | null;
  rule_id: string | null;
  argv: string[];
  env: Record<string, string>;
  concurrency_key: string | null;
}

/** A new run repeating `run` (same argv, env and key) as `trigger: retry`, first attempt. */
export function retryRun(run: RunToRepeat, program: { program_id: string; program_name: string; max_attempts?: number }, by: string): PreparedRun {
  return {
    id: randomUUID(),
    program_id: program.program_id,
    program_name: program.program_name,
    trigger: 'retry',
    receipt_id: run.receipt_id,
    source_id: run.source_id,
    rule_id: run.rule_id,
    retry_of: run.id,
    triggered_by: by,
    attempt: 1,
    max_attempts: program.max_attempts ?? 1,
    argv: run.argv,
    env: run.env,
    concurrency_key: run.concurrency_key,
  };
}

export interface RunTemplates {
  args?: readonly CompiledTemplate[];
  env?: Readonly<Record<string, CompiledTemplate>>;
}

export interface PrepareOptions {
  trigger: TaskTrigger;
  receiptId?: string | null;
  sourceId?: string | null;
  ruleId?: string | null;
  triggeredBy?: string | null;
}

interface CompiledProgram {
  args: CompiledTemplate[];
  key: CompiledTemplate | null;
}

export function toTaskRunDto(t: TaskRun): TaskRunDto {
  return {
    id: t.id,
    program_id: t.programId,
    program_name: t.programName,
    status: t.status,
    trigger: t.trigger,
    receipt_id: t.receiptId,
    source_id: t.sourceId,
    rule_id: t.ruleId,
    retry_of: t.retryOf,
    triggered_by: t.triggeredBy,
    attempt: t.attempt,
    max_attempts: t.maxAttempts,
    argv: t.argv,
    env_keys: Object.keys(t.env),
    concurrency_key: t.concurrencyKey,
    exit_code: t.exitCode,
    signal: t.signal,
    error: t.lastError,
    created_at: t.createdAt.toISOString(),
    run_at: t.runAt.toISOString(),
    started_at: t.startedAt?.toISOString() ?? null,
    finished_at: t.finishedAt?.toISOString() ?? null,
    duration_ms: t.durationMs,
    cancel_requested_at: t.cancelRequestedAt?.toISOString() ?? null,
  };
}

export function toTaskRunDetailDto(t: TaskRun): TaskRunDetailDto {
  return { ...toTaskRunDto(t), stdout: t.stdout, stderr: t.stderr, stdout_bytes: t.stdoutBytes, stderr_bytes: t.stderrBytes };
}

const RUN_RECORD = `id uuid, program_id uuid, program_name text, trigger text, receipt_id uuid, source_id uuid, rule_id uuid,
  retry_of uuid, triggered_by text, attempt int, max_attempts int, argv jsonb, env jsonb, concurrency_key text, delay_seconds int`;

/**
 * SQL that inserts the task runs held in a jsonb array of {@link PreparedRun}s. `from` is a FROM list that
 * ends with `jsonb_to_recordset(<array>) AS <alias>(<record>)`; build it with {@link runsFrom}. Shared by
 * {@link TasksService.insert} and writers that enqueue runs inside a larger statement.
 */
export function insertRunsSql(from: string, alias: string, where = ''): string {
  const a = alias;
  return `INSERT INTO task_runs (id, program_id, program_name, trigger, receipt_id, source_id, rule_id, retry_of, triggered_by,
      attempt, max_attempts, argv, env, concurrency_key, run_at)
    SELECT ${a}.id, ${a}.program_id, ${a}.program_name, ${a}.trigger, ${a}.receipt_id, ${a}.source_id, ${a}.rule_id, ${a}.retry_of,
      ${a}.triggered_by, ${a}.attempt, ${a}.max_attempts, ${a}.argv, ${a}.env, ${a}.concurrency_key,
      now() + (coalesce(${a}.delay_seconds, 0) * interval '1 second')
    FROM ${from} ${where}`;
}

/** `jsonb_to_recordset(<array>) AS <alias>(...)`, the record of a prepared run, for {@link insertRunsSql}. */
export function runsFrom(arrayExpr: string, alias: string): string {
  return `jsonb_to_recordset(${arrayExpr}) AS ${alias}(${RUN_RECORD})`;
}

/** Task runs: prepare and enqueue them (inside a caller's transaction), query, cancel, retry, run by hand. */
@Injectable()
export class TasksService {
  private readonly runs: Repository<TaskRun>;
  readonly queue: TaskQueue;
  private readonly compiled = new Map<string, CompiledProgram>();

  constructor(
    private readonly dataSource: DataSource,
    notifier: QueueNotifier,
    private readonly programs: ProgramsService,
  ) {
    this.runs = dataSource.getRepository(TaskRun);
    this.queue = new TaskQueue(dataSource, notifier);
  }

  /**
   * Renders a run of `program` for a trigger. Throws TemplateError when a value is missing or does not
   * match its pattern: the run is refused, never started with a bad argument.
   */
  prepare(program: Program, templates: RunTemplates, ctx: unknown, options: PrepareOptions): PreparedRun {
    const compiled = this.compiledProgram(program);
    const argv = [...renderArgs(compiled.args, ctx), ...renderArgs(templates.args ?? [], ctx)];
    const env = renderEnv(templates.env ?? {}, ctx);
    const key = compiled.key ? `${program.id}:${compiled.key.render(ctx).join(' ')}` : null;
    return {
      id: randomUUID(),
      program_id: program.id,
      program_name: program.name,
      trigger: options.trigger,
      receipt_id: options.receiptId ?? null,
      source_id: options.sourceId ?? null,
      rule_id: options.ruleId ?? null,
      retry_of: null,
      triggered_by: options.triggeredBy ?? null,
      attempt: 1,
      max_attempts: program.retryMax + 1,
      argv,
      env,
      concurrency_key: key,
    };
  }

  /** Inserts prepared runs in the caller's transaction; call {@link wake} after it commits. */
  async insert(manager: EntityManager, runs: readonly PreparedRun[]): Promise<void> {
    if (!runs.length) return;
    await manager.query(insertRunsSql(runsFrom('$1::jsonb', 'x'), 'x'), [JSON.stringify(runs)]);
  }

  async wake(): Promise<void> {
    await this.queue.wake();
  }

  async get(id: string): Promise<TaskRunDetailDto> {
    return toTaskRunDetailDto(await this.find(id));
  }

  async list(query: ListTasksQueryDto): Promise<Page<TaskRunDto>> {
    const qb = this.runs.createQueryBuilder('t');
    if (query.status) qb.andWhere('t.status = :status', { status: query.status });
    if (query.program_id) qb.andWhere('t.program_id = :programId', { programId: query.program_id });
    if (query.source_id) qb.andWhere('t.source_id = :sourceId', { sourceId: query.source_id });
    if (query.receipt_id) qb.andWhere('t.receipt_id = :receiptId', { receiptId: query.receipt_id });
    return paginate(createdBetween(qb, 't', query), 't', query, toTaskRunDto);
  }

  /** Cancels a queued run at once; a running one is stopped (SIGTERM, then SIGKILL) by its worker. */
  async cancel(id: string, by: string): Promise<TaskRunDetailDto> {
    const run = await this.find(id);
    if (FINAL_STATUSES.includes(run.status)) throw HookhubError.conflict(`Task ${id} already finished (${run.status})`);
    await this.dataSource.query(
      `UPDATE task_runs SET status = 'canceled', finished_at = now(), updated_at = now(), last_error = $2
       WHERE id = $1 AND status = 'queued'`,
      [id, `canceled by ${by} before it started`],
    );
    await this.dataSource.query(
      `UPDATE task_runs SET cancel_requested_at = now(), updated_at = now(), last_error = $2
       WHERE id = $1 AND status = 'running' AND cancel_requested_at IS NULL`,
      [id, `canceled by ${by}`],
    );
    await this.queue.notifyCancel();
    await this.queue.notifyDone();
    return this.get(id);
  }

  /** Runs a finished run again as a new run (`trigger: retry`) with the same argv and env. */
  async retry(id: string, by: string): Promise<TaskRunDetailDto> {
    const run = await this.find(id);
    if (!FINAL_STATUSES.includes(run.status)) throw HookhubError.conflict(`Task ${id} has not finished yet (${run.status})`);
    if (!run.programId) throw HookhubError.conflict(`The program of task ${id} was deleted`);
    const program = await this.programs.find(run.programId);
    if (!program.enabled) throw HookhubError.conflict(`Program ${program.name} is disabled`);
    const next = retryRun(
      { id: run.id, receipt_id: run.receiptId, source_id: run.sourceId, rule_id: run.ruleId, argv: run.argv, env: run.env, concurrency_key: run.concurrencyKey },
      { program_id: program.id, program_name: program.name, max_attempts: program.retryMax + 1 },
      by,
    );
    await this.dataSource.transaction((m) => this.insert(m, [next]));
    await this.wake();
    return this.get(next.id);
  }

  /** A manual run of a program; `payload` is the template context's `body`. */
  async runManually(programId: string, payload: Record<string, unknown>, by: string): Promise<TaskRunDetailDto> {
    const program = await this.programs.find(programId);
    if (!program.enabled) throw HookhubError.conflict(`Program ${program.name} is disabled`);
    if (!program.manualRun) throw HookhubError.forbidden(`Program ${program.name} does not allow manual runs`);
    let run: PreparedRun;
    try {
      run = this.prepare(program, {}, { event: 'manual', body: payload, headers: {}, query: {} }, { trigger: 'manual', triggeredBy: by });
    } catch (err) {
      throw HookhubError.badRequest(`The run was refused: ${(err as Error).message}`);
    }
    await this.dataSource.transaction((m) => this.insert(m, [run]));
    await this.wake();
    return this.get(run.id);
  }

  /** Waits until every run in `ids` has finished or `timeoutMs` passed; returns their current state. */
  async waitForFinal(ids: readonly string[], timeoutMs: number): Promise<TaskRun[]> {
    if (!ids.length) return [];
    const deadline = Date.now() + timeoutMs;
    let wake: (() => void) | undefined;
    const unsubscribe = this.queue.subscribeTo(TASKS_DONE, () => wake?.());
    try {
      for (;;) {
        const runs = await this.runs.createQueryBuilder('t').where('t.id IN (:...ids)', { ids }).getMany();
        const done = runs.every((r) => FINAL_STATUSES.includes(r.status));
        const left = deadline - Date.now();
        if (done || left <= 0) return ids.map((id) => runs.find((r) => r.id === id)).filter((r): r is TaskRun => !!r);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 500));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      unsubscribe();
    }
  }

  /**
   * The output of a run as server-sent events: `stdout` and `stderr` events with new text, `status` events,
   * and a final `end`. Works for a run on any worker (the worker flushes its tails every second).
   */
  streamOutput(id: string, pollMs = 500): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      let stopped = false;
      let sent = { stdout: 0, stderr: 0 };
      let lastStatus = '';
      const emitNew = (stream: 'stdout' | 'stderr', tail: string, total: number) => {
        const already = sent[stream];
        if (total <= already) return;
        const tailBytes = Buffer.byteLength(tail);
        const startOfTail = total - tailBytes;
        if (already < startOfTail) subscriber.next({ type: 'truncated', data: { stream, skipped_bytes: startOfTail - already } });
        const fresh = Buffer.from(tail).subarray(Math.max(0, already - startOfTail)).toString('utf8');
        if (fresh) subscriber.next({ type: stream, data: fresh });
        sent = { ...sent, [stream]: total };
      };
      const tick = async (): Promise<void> => {
        while (!stopped) {
          const run = await this.runs.findOneBy({ id });
          if (!run) {
            subscriber.error(HookhubError.notFound('Task', id));
            return;
          }
          emitNew('stdout', run.stdout, run.stdoutBytes);
          emitNew('stderr', run.stderr, run.stderrBytes);
          if (run.status !== lastStatus) {
            lastStatus = run.status;
            subscriber.next({ type: 'status', data: { status: run.status, exit_code: run.exitCode } });
          }
          if (FINAL_STATUSES.includes(run.status)) {
            subscriber.next({ type: 'end', data: { status: run.status, exit_code: run.exitCode, signal: run.signal, error: run.lastError } });
            subscriber.complete();
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, pollMs));
        }
      };
      tick().catch((err: unknown) => subscriber.error(err));
      return () => {
        stopped = true;
      };
    });
  }

  async find(id: string): Promise<TaskRun> {
    const run = isUuid(id) ? await this.runs.findOneBy({ id }) : null;
    if (!run) throw HookhubError.notFound('Task', id);
    return run;
  }

  private compiledProgram(program: Program): CompiledProgram {
    const cacheKey = `${program.id}:${program.updatedAt.getTime()}`;
    let compiled = this.compiled.get(cacheKey);
    if (!compiled) {
      compiled = { args: program.args.map((t) => compileTemplate(t, { kind: 'arg' })), key: program.concurrencyKey ? compileTemplate(program.concurrencyKey, { kind: 'key' }) : null };
      if (this.compiled.size > 1000) this.compiled.clear();
      this.compiled.set(cacheKey, compiled);
    }
    return compiled;
  }
}
