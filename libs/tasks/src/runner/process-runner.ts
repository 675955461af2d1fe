import { Injectable } from '@nestjs/common';
import { type ChildProcess, spawn } from 'node:child_process';
import { OutputTail } from './output-tail';

export interface RunSpec {
  /** Absolute path; run directly, never through a shell. */
  command: string;
  args: readonly string[];
  cwd?: string;
  /** The complete environment of the process (the hub's own is never inherited). */
  env: Record<string, string>;
  timeoutMs: number;
  /** Bytes of stdout and of stderr kept (the tail). */
  outputCapBytes: number;
  /** Time between SIGTERM and SIGKILL on timeout or cancel. */
  killGraceMs: number;
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  canceled: boolean;
  /** Set when the process could not be started (ENOENT, EACCES ...). */
  spawnError: string | null;
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
}

export interface RunningProcess {
  readonly pid: number | undefined;
  /** Stops the process group: SIGTERM, then SIGKILL after the grace period. */
  cancel(reason?: string): void;
  /** Current tails, for live progress. */
  snapshot(): { stdout: string; stderr: string; stdoutBytes: number; stderrBytes: number };
  readonly done: Promise<RunResult>;
}

/**
 * Runs programs as child processes: no shell, its own process group, only the given env, stdin closed,
 * bounded output tails while the pipes are drained, and a timeout that ends the whole group.
 * A provider so services can be tested with a fake.
 */
@Injectable()
export class ProcessRunner {
  start(spec: RunSpec): RunningProcess {
    const startedAt = new Date();
    const stdout = new OutputTail(spec.outputCapBytes);
    const stderr = new OutputTail(spec.outputCapBytes);
    let timedOut = false;
    let canceled = false;
    /** The process exited on its own: a later cancel or timeout does not change its outcome. */
    let exited = false;
    let child: ChildProcess;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnError: string | null = null;

    const finish = (exitCode: number | null, signal: string | null): RunResult => {
      const finishedAt = new Date();
      return {
        exitCode,
        signal,
        timedOut,
        canceled,
        spawnError,
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdoutBytes: stdout.total,
        stderrBytes: stderr.total,
        startedAt,
        finishedAt,
        durationMs: finishedAt.getTime() - startedAt.getTime(),
      };
    };

    try {
      child = spawn(spec.command, [...spec.args], {
        cwd: spec.cwd,
        env: spec.env,
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      spawnError = (err as Error).message;
      const result = finish(null, null);
      return { pid: undefined, cancel: () => undefined, snapshot: () => ({ stdout: '', stderr: '', stdoutBytes: 0, stderrBytes: 0 }), done: Promise.resolve(result) };
    }

    const signalGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      }
    };
    const stop = (): void => {
      signalGroup('SIGTERM');
      killTimer ??= setTimeout(() => signalGroup('SIGKILL'), spec.killGraceMs);
    };

    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      spec.onOutput?.('stdout', chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      spec.onOutput?.('stderr', chunk);
    });

    const timeout = setTimeout(() => {
      if (exited) return;
      timedOut = true;
      stop();
    }, spec.timeoutMs);

    const done = new Promise<RunResult>((resolve) => {
      let settled = false;
      let exitInfo: { code: number | null; signal: string | null } | undefined;
      let drainTimer: NodeJS.Timeout | undefined;
      const settle = (code: number | null, signal: string | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (killTimer) clearTimeout(killTimer);
        if (drainTimer) clearTimeout(drainTimer);
        resolve(finish(code, signal));
      };
      child.on('error', (err) => {
        spawnError = err.message;
        settle(null, null);
      });
      child.on('exit', (code, signal) => {
        exited = true;
        exitInfo = { code, signal };
        // Descendants may hold the pipes open after the leader exits: end the group, then stop waiting.
        drainTimer = setTimeout(() => {
          signalGroup('SIGKILL');
          child.stdout?.destroy();
          child.stderr?.destroy();
          settle(code, signal);
        }, Math.min(spec.killGraceMs, 2000));
      });
      child.on('close', (code, signal) => settle(exitInfo?.code ?? code, exitInfo?.signal ?? signal));
    });

    return {
      pid: child.pid,
      cancel: () => {
        // A process that already exited keeps its real outcome (descendants still holding its pipes are
        // ended by the drain timer).
        if (exited) return;
        canceled = true;
        stop();
      },
      snapshot: () => ({ stdout: stdout.text(), stderr: stderr.text(), stdoutBytes: stdout.total, stderrBytes: stderr.total }),
      done,
    };
  }
}
