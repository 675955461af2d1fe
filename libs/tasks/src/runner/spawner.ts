import { type ChildProcess, spawn } from 'node:child_process';

/**
 * What a launched program reports back, whichever process started it: its pid once started, its output,
 * its exit (the leader ended) and its close (its pipes are closed too), or why it could not start.
 */
export interface LaunchEvents {
  pid(pid: number): void;
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  exit(code: number | null, signal: string | null): void;
  close(code: number | null, signal: string | null): void;
  error(message: string): void;
}

export interface LaunchSpec {
  command: string;
  args: readonly string[];
  cwd?: string;
  env: Record<string, string>;
}

/** A started program: its pid (once known), and a way to stop reading its pipes. */
export interface Launched {
  readonly pid: number | undefined;
  /** Stops reading the pipes (descendants that still hold them open are left to their signals). */
  closePipes(): void;
}

/** Starts programs: in this process ({@link launchHere}) or through the {@link Spawner} process. */
export type Launch = (spec: LaunchSpec, events: LaunchEvents) => Launched;

/** How every program is started: no shell, its own process group, only the given env, stdin closed. */
function startProgram(spec: LaunchSpec): ChildProcess {
  return spawn(spec.command, [...spec.args], {
    cwd: spec.cwd,
    env: spec.env,
    shell: false,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
}

/** Starts the program in this process. */
export const launchHere: Launch = (spec, events) => {
  let child: ChildProcess;
  try {
    child = startProgram(spec);
  } catch (err) {
    events.error((err as Error).message);
    return { pid: undefined, closePipes: () => undefined };
  }
  if (child.pid !== undefined) events.pid(child.pid);
  child.stdout?.on('data', (chunk: Buffer) => events.output('stdout', chunk));
  child.stderr?.on('data', (chunk: Buffer) => events.output('stderr', chunk));
  child.on('error', (err) => events.error(err.message));
  child.on('exit', (code, signal) => events.exit(code, signal));
  child.on('close', (code, signal) => events.close(code, signal));
  return {
    pid: child.pid,
    closePipes: () => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    },
  };
};

/** A message from the hub to the spawner process. */
type ToSpawner = { t: 'run'; id: number; spec: LaunchSpec } | { t: 'close-pipes'; id: number };

/** A message from the spawner process to the hub. */
type FromSpawner =
  | { t: 'pid'; id: number; pid: number }
  | { t: 'out'; id: number; stdout: boolean; data: Uint8Array }
  | { t: 'exit' | 'close'; id: number; code: number | null; signal: string | null }
  | { t: 'error'; id: number; message: string };

/**
 * The spawner process's program. It is sent to `node -` as the source of this function, so it must stand
 * alone: no names from outside it, `require` for Node's own modules. It starts each program it is asked to
 * (as {@link startProgram} does), and reports back. It ignores the terminal's signals (the hub decides when
 * runs end) and exits when the hub is gone.
 */
/* c8 ignore start */
function spawnerProgram(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- runs as a CommonJS script of its own
  const cp = require('node:child_process') as typeof import('node:child_process');
  const send = (m: unknown): void => void process.send?.(m);
  const children = new Map<number, ChildProcess>();
  process.title = 'hookhub-spawner';
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: ToSpawner) => {
    if (m.t === 'close-pipes') {
      children.get(m.id)?.stdout?.destroy();
      children.get(m.id)?.stderr?.destroy();
      return;
    }
    const { id, spec } = m;
    let child: ChildProcess;
    try {
      child = cp.spawn(spec.command, [...spec.args], {
        cwd: spec.cwd,
        env: spec.env,
        shell: false,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      send({ t: 'error', id, message: (err as Error).message });
      return;
    }
    children.set(id, child);
    if (child.pid !== undefined) send({ t: 'pid', id, pid: child.pid });
    child.stdout?.on('data', (data: Buffer) => send({ t: 'out', id, stdout: true, data }));
    child.stderr?.on('data', (data: Buffer) => send({ t: 'out', id, stdout: false, data }));
    child.on('error', (err) => send({ t: 'error', id, message: err.message }));
    child.on('exit', (code, signal) => send({ t: 'exit', id, code, signal }));
    child.on('close', (code, signal) => {
      children.delete(id);
      send({ t: 'close', id, code, signal });
    });
  });
}
/* c8 ignore stop */

/**
 * Starts programs from a small process of its own instead of the hub's. Starting a process copies the
 * starter's memory map: from a hub or worker of 250-350 MB that cost several milliseconds of its event loop
 * per run, more than the rest of a run's work. The spawner is a bare Node process (about 40 MB) that only
 * starts programs and passes their output and exit back over its IPC channel; the hub keeps the timeouts,
 * the signals (sent to each program's process group by pid) and the output tails.
 *
 * It is started on the first run and again after it died; runs it held when it died end with a start
 * error (their process groups are killed), so they go through the retry policy like any failed start.
 */
export class Spawner {
  private child?: ChildProcess;
  private seq = 0;
  private readonly runs = new Map<number, { events: LaunchEvents; pid?: number }>();

  readonly launch: Launch = (spec, events) => {
    const child = this.process();
    const id = ++this.seq;
    const run: { events: LaunchEvents; pid?: number } = { events };
    this.runs.set(id, run);
    if (this.runs.size === 1) this.hold(child, true);
    const message: ToSpawner = { t: 'run', id, spec: { ...spec, args: [...spec.args] } };
    child.send(message);
    return {
      get pid() {
        return run.pid;
      },
      closePipes: () => {
        if (this.runs.has(id)) child.send({ t: 'close-pipes', id } satisfies ToSpawner);
      },
    };
  };

  /** Programs started and not yet closed. */
  get running(): number {
    return this.runs.size;
  }

  /** Ends the spawner process (the hub is stopping; its runs are over). */
  close(): void {
    const child = this.child;
    this.child = undefined;
    if (child?.connected) child.disconnect();
  }

  private process(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(process.execPath, ['-'], {
      stdio: ['pipe', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      // Not in the hub's process group: a Ctrl-C reaches the hub, which drains its runs, not the spawner.
      detached: true,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    child.stdin?.end(`(${spawnerProgram.toString()})();\n`);
    child.on('message', (m: FromSpawner) => this.received(m));
    child.on('exit', () => this.died(child));
    child.on('error', () => this.died(child));
    this.child = child;
    this.hold(child, false);
    return child;
  }

  private received(m: FromSpawner): void {
    const run = this.runs.get(m.id);
    if (!run) return;
    switch (m.t) {
      case 'pid':
        run.pid = m.pid;
        run.events.pid(m.pid);
        break;
      case 'out':
        run.events.output(
          m.stdout ? 'stdout' : 'stderr',
          Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength),
        );
        break;
      case 'exit':
        run.events.exit(m.code, m.signal);
        break;
      case 'error':
        run.events.error(m.message);
        this.forget(m.id);
        break;
      case 'close':
        this.forget(m.id);
        run.events.close(m.code, m.signal);
        break;
    }
  }

  private forget(id: number): void {
    this.runs.delete(id);
    if (!this.runs.size && this.child) this.hold(this.child, false);
  }

  /** The spawner is gone: its runs' programs are ended, and the runs end with a start error. */
  private died(child: ChildProcess): void {
    if (this.child === child) this.child = undefined;
    const runs = [...this.runs.values()];
    this.runs.clear();
    for (const run of runs) {
      if (run.pid !== undefined) {
        try {
          process.kill(-run.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      run.events.error('the process that starts programs (the spawner) stopped while the program ran');
    }
  }

  /** Keeps this process alive while runs are out (and lets it exit when none are). */
  private hold(child: ChildProcess, busy: boolean): void {
    if (busy) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  }
}
