import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from './receiver';

const ROOT = process.cwd();

export interface BuiltApps {
  api: string;
  worker: string;
  /** The `hookhub` command line's main (run it with `node`). */
  cli: string;
}

/**
 * Builds the apps and the command line from the current sources (about 10 s) into a cache directory of `name`'s own (never the
 * project's dist/, and never a directory another suite builds into at the same time). Returns their mains.
 */
export function buildApps(name: string): BuiltApps {
  const dir = join(ROOT, 'node_modules/.cache', `hookhub-build-${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ extends: '../../../tsconfig.build.json', compilerOptions: { outDir: './out' } }),
  );
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/@nestjs/cli/bin/nest.js'),
      'build',
      'api',
      '--path',
      join('node_modules/.cache', `hookhub-build-${name}`, 'tsconfig.json'),
    ],
    {
      cwd: ROOT,
      stdio: 'pipe',
    },
  );
  return {
    api: join(dir, 'out/apps/api/src/main.js'),
    worker: join(dir, 'out/apps/worker/src/main.js'),
    cli: join(dir, 'out/apps/cli/src/main.js'),
  };
}

/** A built app running as a child process, with its stdout and stderr kept. */
export interface BuiltProcess {
  child: ChildProcess;
  output(): string;
}

/**
 * Runs a built app's `main` as a process with `env` (and PATH, info logs), its output captured; `children`
 * collects it for the suite's clean-up.
 */
export function spawnBuilt(main: string, env: Record<string, string>, children: ChildProcess[]): BuiltProcess {
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOOKHUB_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

/** Waits until a built worker process says it runs; fails with its output if it exits first. */
export async function workerRunning(worker: BuiltProcess): Promise<void> {
  await eventually(
    async () => {
      if (worker.child.exitCode !== null)
        throw new Error(`the worker exited with ${worker.child.exitCode}:\n${worker.output()}`);
      return worker.output().includes('Hookhub worker running') ? true : undefined;
    },
    60_000,
    'the worker to start',
  );
}
