import { randomUUID } from 'node:crypto';
import type { PreparedRun } from '../stores/task-run.store';

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

/**
 * A new run repeating `run` (same argv, env and key) as `trigger: retry`, first attempt, on the program's
 * queue as it is now (a program moved to another queue retries there).
 */
export function retryRun(
  run: RunToRepeat,
  program: { program_id: string; program_name: string; max_attempts?: number; queue: string },
  by: string,
): PreparedRun {
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
    queue: program.queue,
  };
}
