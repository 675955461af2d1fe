import { Injectable, type MessageEvent } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import type { EntityManager } from 'typeorm';
import {
  BoundedCache,
  Clock,
  type CompiledTemplate,
  HookhubError,
  type Page,
  compileTemplate,
  isUuid,
  renderArgs,
  renderEnv,
} from '@hookhub/core';
import {
  type ListTasksQueryDto,
  type TaskRunDetailDto,
  type TaskRunDto,
  toTaskRunDetailDto,
  toTaskRunDto,
} from '../dto/tasks.dto';
import type { Program } from '../entities/program.entity';
import { FINAL_STATUSES, type TaskRun, type TaskTrigger } from '../entities/task-run.entity';
import { retryRun } from '../runs/retry-run';
import { type PreparedRun, TaskRunStore } from '../stores/task-run.store';
import { ProgramsService } from './programs.service';

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

/** Task runs: prepare and enqueue them (inside a caller's transaction), query, cancel, retry, run by hand. */
@Injectable()
export class TasksService {
  /** Compiled templates by program id and version. */
  private readonly compiled = new BoundedCache<string, CompiledProgram>({ maxEntries: 1000 });

  constructor(
    private readonly runs: TaskRunStore,
    private readonly programs: ProgramsService,
    private readonly clock: Clock,
  ) {}

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
      queue: program.queue,
    };
  }

  /** Inserts prepared runs in the caller's transaction; call {@link wake} after it commits. */
  async insert(manager: EntityManager, runs: readonly PreparedRun[]): Promise<void> {
    await this.runs.insert(runs, manager);
  }

  async wake(): Promise<void> {
    await this.runs.wake();
  }

  async get(id: string): Promise<TaskRunDetailDto> {
    return toTaskRunDetailDto(await this.find(id));
  }

  async list(query: ListTasksQueryDto): Promise<Page<TaskRunDto>> {
    return this.runs.list(query, toTaskRunDto);
  }

  /** Cancels a queued run at once; a running one is stopped (SIGTERM, then SIGKILL) by its worker. */
  async cancel(id: string, by: string): Promise<TaskRunDetailDto> {
    const run = await this.find(id);
    if (FINAL_STATUSES.includes(run.status)) throw HookhubError.conflict(`Task ${id} already finished (${run.status})`);
    await this.runs.cancelQueued(id, `canceled by ${by} before it started`);
    await this.runs.requestCancel(id, `canceled by ${by}`);
    await this.runs.notifyCancel();
    await this.runs.notifyDone();
    return this.get(id);
  }

  /** Runs a finished run again as a new run (`trigger: retry`) with the same argv and env. */
  async retry(id: string, by: string): Promise<TaskRunDetailDto> {
    const run = await this.find(id);
    if (!FINAL_STATUSES.includes(run.status))
      throw HookhubError.conflict(`Task ${id} has not finished yet (${run.status})`);
    if (!run.programId) throw HookhubError.conflict(`The program of task ${id} was deleted`);
    const program = await this.programs.find(run.programId);
    if (!program.enabled) throw HookhubError.conflict(`Program ${program.name} is disabled`);
    const next = retryRun(
      {
        id: run.id,
        receipt_id: run.receiptId,
        source_id: run.sourceId,
        rule_id: run.ruleId,
        argv: run.argv,
        env: run.env,
        concurrency_key: run.concurrencyKey,
      },
      { program_id: program.id, program_name: program.name, max_attempts: program.retryMax + 1, queue: program.queue },
      by,
    );
    await this.runs.insert([next]);
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
      run = this.prepare(
        program,
        {},
        { event: 'manual', body: payload, headers: {}, query: {} },
        { trigger: 'manual', triggeredBy: by },
      );
    } catch (err) {
      throw HookhubError.badRequest(`The run was refused: ${(err as Error).message}`);
    }
    await this.runs.insert([run]);
    await this.wake();
    return this.get(run.id);
  }

  /** Waits until every run in `ids` has finished or `timeoutMs` passed; returns their current state. */
  async waitForFinal(ids: readonly string[], timeoutMs: number): Promise<TaskRun[]> {
    if (!ids.length) return [];
    const deadline = this.clock.nowMs() + timeoutMs;
    let wake: (() => void) | undefined;
    const unsubscribe = this.runs.onDone(() => wake?.());
    try {
      for (;;) {
        const runs = await this.runs.findByIds(ids);
        const done = runs.every((r) => FINAL_STATUSES.includes(r.status));
        const left = deadline - this.clock.nowMs();
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
        if (already < startOfTail)
          subscriber.next({ type: 'truncated', data: { stream, skipped_bytes: startOfTail - already } });
        const fresh = Buffer.from(tail)
          .subarray(Math.max(0, already - startOfTail))
          .toString('utf8');
        if (fresh) subscriber.next({ type: stream, data: fresh });
        sent = { ...sent, [stream]: total };
      };
      const tick = async (): Promise<void> => {
        while (!stopped) {
          const run = await this.runs.findById(id);
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
            subscriber.next({
              type: 'end',
              data: { status: run.status, exit_code: run.exitCode, signal: run.signal, error: run.lastError },
            });
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
    const run = isUuid(id) ? await this.runs.findById(id) : null;
    if (!run) throw HookhubError.notFound('Task', id);
    return run;
  }

  private compiledProgram(program: Program): CompiledProgram {
    return this.compiled.getOrSet(`${program.id}:${program.updatedAt.getTime()}`, () => ({
      args: program.args.map((t) => compileTemplate(t, { kind: 'arg' })),
      key: program.concurrencyKey ? compileTemplate(program.concurrencyKey, { kind: 'key' }) : null,
    }));
  }
}
