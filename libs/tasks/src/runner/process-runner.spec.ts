import { ProcessRunner } from './process-runner';

const spec = { env: { PATH: '/usr/bin:/bin' }, timeoutMs: 30_000, outputCapBytes: 4096, killGraceMs: 1500 };

describe('ProcessRunner outcomes', () => {
  it('keeps the real outcome of a process that exited before it was cancelled (shutdown, cancel, lost lease)', async () => {
    // The leader exits 0 at once; its background child keeps the pipes open for a while, so the run is not
    // over yet when the cancel arrives.
    const run = new ProcessRunner().start({ ...spec, command: '/bin/sh', args: ['-c', 'sleep 20 & echo done; exit 0'] });
    await new Promise((r) => setTimeout(r, 500));
    run.cancel();
    const result = await run.done;
    expect(result).toMatchObject({ exitCode: 0, canceled: false, timedOut: false, spawnError: null });
    expect(result.stdout).toContain('done');
  });

  it('marks a process that was still running when cancelled as cancelled, ended by its signal', async () => {
    const run = new ProcessRunner().start({ ...spec, command: '/bin/sleep', args: ['20'] });
    await new Promise((r) => setTimeout(r, 300));
    run.cancel();
    const result = await run.done;
    expect(result).toMatchObject({ canceled: true, exitCode: null, signal: 'SIGTERM' });
  });
});
