import { Inject, Injectable, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { APP_CONFIG, type AppConfig, Clock } from '@hookhub/core';
import { OutputTail } from './output-tail';
import { type Launch, type Launched, Spawner, launchHere } from './spawner';

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
  /** The program's leader has exited (its descendants may still hold the pipes); its outcome is fixed. */
  readonly exited: boolean;
  /** Stops the process group: SIGTERM, then SIGKILL after the grace period. */
  cancel(reason?: string): void;
  /** Current tails, for live progress. */
  snapshot(): { stdout: string; stderr: string; stdoutBytes: number; stderrBytes: number };
  readonly done: Promise<RunResult>;
}

/**
 * Runs programs as child processes: no shell, its own process group, only the given env, stdin closed,
 * bounded output tails while the pipes are drained, and a timeout that ends the whole group.
 * The programs are started by the {@link Spawner} process (HOOKHUB_TASK_SPAWNER, the default) or by this
 * process. A provider so services can be tested with a fake.
 */
@Injectable()
export class ProcessRunner implements OnApplicationShutdown {
  private readonly spawner?: Spawner;
  private readonly launch: Launch;

  constructor(
    private readonly clock: Clock = new Clock(),
    @Optional() @Inject(APP_CONFIG) config?: Pick<AppConfig, 'tasks'>,
  ) {
    this.spawner = config?.tasks.spawner === false ? undefined : new Spawner();
    this.launch = this.spawner?.launch ?? launchHere;
  }

  /** Ends the spawner process (the task worker has drained its runs before). */
  onApplicationShutdown(): void {
    this.spawner?.close();
  }

  start(spec: RunSpec): RunningProcess {
    const startedAt = this.clock.now();
    const stdout = new OutputTail(spec.outputCapBytes);
    const stderr = new OutputTail(spec.outputCapBytes);
    let timedOut = false;
    let canceled = false;
    /** The process exited on its own: a later cancel or timeout does not change its outcome. */
    let exited = false;
    let launched: Launched | undefined;
    let pid: number | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnError: string | null = null;

    const finish = (exitCode: number | null, signal: string | null): RunResult => {
      const finishedAt = this.clock.now();
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

    const signalGroup = (signal: NodeJS.Signals): void => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, signal);
      } catch {
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    };
    const stop = (): void => {
      signalGroup('SIGTERM');
      killTimer ??= setTimeout(() => signalGroup('SIGKILL'), spec.killGraceMs);
    };
    let timeout: NodeJS.Timeout | undefined;

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
      launched = this.launch(
        {
          command: spec.command,
          args: spec.args,
          cwd: spec.cwd,
          env: spec.env,
        },
        {
          pid: (started) => {
            pid = started;
            // A cancel that came before the pid was known.
            if ((canceled || timedOut) && !exited) stop();
          },
          output: (stream, chunk) => {
            (stream === 'stdout' ? stdout : stderr).push(chunk);
            spec.onOutput?.(stream, chunk);
          },
          error: (message) => {
            spawnError = message;
            settle(null, null);
          },
          exit: (code, signal) => {
            exited = true;
            exitInfo = { code, signal };
            // Descendants may hold the pipes open after the leader exits: end the group, then stop waiting.
            drainTimer = setTimeout(
              () => {
                signalGroup('SIGKILL');
                launched?.closePipes();
                settle(code, signal);
              },
              Math.min(spec.killGraceMs, 2000),
            );
          },
          close: (code, signal) => settle(exitInfo?.code ?? code, exitInfo?.signal ?? signal),
        },
      );
      if (!settled)
        timeout = setTimeout(() => {
          if (exited) return;
          timedOut = true;
          stop();
        }, spec.timeoutMs);
    });

    return {
      get pid() {
        return pid;
      },
      get exited() {
        return exited;
      },
      cancel: () => {
        // A process that already exited keeps its real outcome (descendants still holding its pipes are
        // ended by the drain timer).
        if (exited) return;
        canceled = true;
        stop();
      },
      snapshot: () => ({
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdoutBytes: stdout.total,
        stderrBytes: stderr.total,
      }),
      done,
    };
  }
}
