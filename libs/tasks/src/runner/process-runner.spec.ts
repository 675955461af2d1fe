import { readFileSync } from 'node:fs';
import { Clock } from '@hookhub/core';
import { ProcessRunner, type RunSpec } from './process-runner';

const spec = { env: { PATH: '/usr/bin:/bin' }, timeoutMs: 30_000, outputCapBytes: 4096, killGraceMs: 1500 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a process is running (a killed one not reaped yet is a zombie: state Z). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe.each([
  ['through the spawner process', true],
  ['from this process', false],
])('ProcessRunner, programs started %s', (_how, spawner) => {
  let runner: ProcessRunner;
  beforeEach(() => {
    runner = new ProcessRunner(new Clock(), { tasks: { spawner } as never });
  });
  afterEach(() => runner.onApplicationShutdown());
  const start = (s: Partial<RunSpec> & Pick<RunSpec, 'command' | 'args'>) => runner.start({ ...spec, ...s });

  it('keeps the real outcome of a process that exited before it was cancelled (shutdown, cancel, lost lease)', async () => {
    // The leader exits 0 at once; its background child keeps the pipes open for a while, so the run is not
    // over yet when the cancel arrives.
    const run = start({ command: '/bin/sh', args: ['-c', 'sleep 20 & echo done; exit 0'] });
    // Waits for the exit to be known here (a cold spawner on a busy machine can take a while to start).
    const until = Date.now() + 20_000;
    while (!run.exited && Date.now() < until) await sleep(20);
    expect(run.exited).toBe(true);
    run.cancel();
    const result = await run.done;
    expect(result).toMatchObject({ exitCode: 0, canceled: false, timedOut: false, spawnError: null });
    expect(result.stdout).toContain('done');
  });

  it('marks a process that was still running when cancelled as cancelled, ended by its signal', async () => {
    const run = start({ command: '/bin/sleep', args: ['20'] });
    await sleep(300);
    run.cancel();
    const result = await run.done;
    expect(result).toMatchObject({ canceled: true, exitCode: null, signal: 'SIGTERM' });
  });

  it('passes argv, env and cwd exactly, and keeps the tails of stdout and stderr with their byte counts', async () => {
    const chunks: string[] = [];
    const run = start({
      command: '/bin/sh',
      args: ['-c', 'echo "$1|$GREETING|$(pwd)"; echo oops >&2; exit 3', 'sh', 'a b; $(x)'],
      env: { PATH: '/usr/bin:/bin', GREETING: 'hi there' },
      cwd: '/tmp',
      onOutput: (stream, chunk) => chunks.push(`${stream}:${chunk.toString()}`),
    });
    const result = await run.done;
    expect(result).toMatchObject({ exitCode: 3, signal: null, spawnError: null, stderr: 'oops\n', stderrBytes: 5 });
    expect(result.stdout).toBe('a b; $(x)|hi there|/tmp\n');
    expect(chunks).toEqual(expect.arrayContaining(['stdout:a b; $(x)|hi there|/tmp\n', 'stderr:oops\n']));
  });

  it('keeps only the last bytes of a long output, and counts them all', async () => {
    const run = start({ command: '/bin/sh', args: ['-c', 'seq 1 20000'], outputCapBytes: 64 });
    const result = await run.done;
    expect(result.stdoutBytes).toBe(108_894);
    expect(result.stdout.endsWith('19999\n20000\n')).toBe(true);
    expect(Buffer.byteLength(result.stdout)).toBeLessThanOrEqual(64);
  });

  it('says why a program could not start', async () => {
    const result = await start({ command: '/nonexistent/program', args: [] }).done;
    expect(result).toMatchObject({ exitCode: null, spawnError: expect.stringContaining('ENOENT') });
  });

  it('times out a program and ends its whole process group, SIGKILL after the grace when SIGTERM is ignored', async () => {
    const run = start({
      command: '/bin/sh',
      args: ['-c', 'trap "" TERM; sleep 30 & echo $!; wait'],
      timeoutMs: 300,
      killGraceMs: 300,
    });
    const result = await run.done;
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    const background = Number(result.stdout.trim());
    expect(background).toBeGreaterThan(0);
    await sleep(100);
    expect(alive(background)).toBe(false);
  });

  it(`starts programs ${spawner ? 'from the spawner, not from this process' : 'as children of this process'}`, async () => {
    const run = start({ command: '/bin/sh', args: ['-c', 'echo $PPID'] });
    const result = await run.done;
    const parent = Number(result.stdout.trim());
    if (spawner) expect(parent).not.toBe(process.pid);
    else expect(parent).toBe(process.pid);
    expect(run.pid).toBeGreaterThan(0);
  });
});

describe('the spawner process', () => {
  it('ends the runs it held when it dies, with their programs, and a new spawner takes the next run', async () => {
    const runner = new ProcessRunner(new Clock(), { tasks: { spawner: true } as never });
    try {
      const run = runner.start({ ...spec, command: '/bin/sh', args: ['-c', 'echo $PPID; sleep 30'] });
      let spawnerPid = 0;
      const until = Date.now() + 10_000;
      while (!spawnerPid && Date.now() < until) {
        spawnerPid = Number(run.snapshot().stdout.trim());
        await sleep(20);
      }
      expect(spawnerPid).toBeGreaterThan(0);
      const program = run.pid!;
      process.kill(spawnerPid, 'SIGKILL');
      const result = await run.done;
      expect(result.spawnError).toMatch(/spawner\) stopped/);
      await sleep(100);
      expect(alive(program)).toBe(false);

      const next = await runner.start({ ...spec, command: '/bin/sh', args: ['-c', 'echo $PPID'] }).done;
      expect(next).toMatchObject({ exitCode: 0, spawnError: null });
      expect(Number(next.stdout.trim())).not.toBe(spawnerPid);
    } finally {
      runner.onApplicationShutdown();
    }
  });
});
