import type { DataSource } from 'typeorm';
import { GroupCommit } from './group-commit';
import { PostgresNotifier, QUEUE_CHANNEL } from './queue/notifier';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A promise with its resolve/reject outside. */
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('writes the first item at once and what arrives meanwhile together, answering each caller its own result', async () => {
    const batches: number[][] = [];
    const gates: Array<Deferred> = [];
    const commit = new GroupCommit<number, string>(
      async (items) => {
        batches.push(items);
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
        return items.map((x) => `r${x}`);
      },
      { maxBatch: 3, maxFlushes: 1 },
    );
    const first = commit.write(1);
    const rest = [2, 3, 4, 5, 6].map((x) => commit.write(x));
    await tick();
    expect(batches).toEqual([[1]]);
    gates[0].resolve();
    await expect(first).resolves.toBe('r1');
    await tick();
    // One batch at a time, at most maxBatch items each.
    expect(batches).toEqual([[1], [2, 3, 4]]);
    gates[1].resolve();
    await tick();
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6]]);
    gates[2].resolve();
    await expect(Promise.all(rest)).resolves.toEqual(['r2', 'r3', 'r4', 'r5', 'r6']);
    expect(commit.pending).toBe(0);
  });

  it('retries a failed batch item by item, so only the bad item fails, and says so', async () => {
    const splits: number[] = [];
    const calls: number[][] = [];
    const commit = new GroupCommit<number, number>(
      async (items) => {
        calls.push(items);
        await tick();
        if (items.includes(13)) throw new Error('bad row 13');
        return items.map((x) => x * 2);
      },
      { maxBatch: 10, maxFlushes: 1, onSplit: (size) => splits.push(size) },
    );
    const blocker = commit.write(0);
    const results = [12, 13, 14].map((x) =>
      commit.write(x).then(
        (v) => ({ ok: v }),
        (err: Error) => ({ err: err.message }),
      ),
    );
    await blocker;
    expect(await Promise.all(results)).toEqual([{ ok: 24 }, { err: 'bad row 13' }, { ok: 28 }]);
    expect(splits).toEqual([3]);
    expect(calls).toEqual([[0], [12, 13, 14], [12], [13], [14]]);
  });

  it('runs up to maxFlushes batches at once', async () => {
    let running = 0;
    let most = 0;
    const commit = new GroupCommit<number, number>(
      async (items) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return items;
      },
      { maxBatch: 1, maxFlushes: 2 },
    );
    await Promise.all([1, 2, 3, 4, 5].map((x) => commit.write(x)));
    expect(most).toBe(2);
  });
});

describe('PostgresNotifier.notify', () => {
  it('wakes local workers on every call and coalesces the NOTIFYs asked for while one is on its way', async () => {
    const sent: Array<{ params: unknown[]; done: Deferred }> = [];
    const dataSource = {
      query: (_sql: string, params: unknown[]) => {
        const done = deferred();
        sent.push({ params, done });
        return done.promise;
      },
    } as unknown as DataSource;
    const notifier = new PostgresNotifier(dataSource, 'postgres://unused', false);
    let woken = 0;
    notifier.subscribe('deliveries', () => woken++);

    const first = notifier.notify('deliveries');
    const during = [notifier.notify('deliveries'), notifier.notify('deliveries'), notifier.notify('deliveries')];
    expect(woken).toBe(4);
    expect(sent.map((s) => s.params)).toEqual([[QUEUE_CHANNEL, 'deliveries']]);

    let duringSettled = false;
    void Promise.all(during).then(() => (duringSettled = true));
    sent[0].done.resolve();
    await first;
    await tick();
    // The three calls made meanwhile share one NOTIFY, sent after the first, and settle when it has been.
    expect(sent).toHaveLength(2);
    expect(duringSettled).toBe(false);
    sent[1].done.resolve();
    await Promise.all(during);
    await tick();
    expect(sent).toHaveLength(2);

    // Idle again: the next call sends at once; another queue is not held by this one.
    const later = notifier.notify('deliveries');
    const other = notifier.notify('tasks');
    expect(sent.map((s) => s.params[1])).toEqual(['deliveries', 'deliveries', 'deliveries', 'tasks']);
    sent[2].done.resolve();
    sent[3].done.resolve();
    await Promise.all([later, other]);
  });

  it('a failed NOTIFY fails its callers; the calls queued behind it are still sent', async () => {
    const sent: Array<Deferred> = [];
    const dataSource = {
      query: () => {
        const done = deferred();
        sent.push(done);
        return done.promise;
      },
    } as unknown as DataSource;
    const notifier = new PostgresNotifier(dataSource, 'postgres://unused', false);
    const first = notifier.notify('deliveries');
    const second = notifier.notify('deliveries');
    sent[0].reject(new Error('connection lost'));
    await expect(first).rejects.toThrow('connection lost');
    await tick();
    expect(sent).toHaveLength(2);
    sent[1].resolve();
    await expect(second).resolves.toBeUndefined();
  });
});
