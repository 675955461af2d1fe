import { Periodic } from './periodic';

describe('Periodic', () => {
  it('runs the job repeatedly, never two at once, reports errors, and stop waits for the run in progress', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    let finished = 0;
    const errors: unknown[] = [];
    const periodic = new Periodic(
      10,
      async () => {
        runs++;
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 35));
        running--;
        finished++;
        if (runs === 2) throw new Error('second run failed');
      },
      (err) => errors.push(err),
    );
    periodic.start();
    // However loaded the machine, the runs come one after another.
    while (runs < 3) await new Promise((r) => setTimeout(r, 5));
    await periodic.stop();
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(most).toBe(1);
    expect(finished).toBe(runs);
    expect(errors).toEqual([new Error('second run failed')]);
    const after = runs;
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toBe(after);
  });
});
