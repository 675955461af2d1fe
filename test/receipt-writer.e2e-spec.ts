import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { type ReceiptRow, type ReceiptWrite, ReceiptWriter } from '@hookhub/inbound';
import type { PreparedRun } from '@hookhub/tasks';
import { type TestApp, bootApp } from './helpers/app';
import { usingRealPostgres } from './helpers/database';
import { PROGRAMS_DIR, create, program } from './helpers/inbound';
import { eventually } from './helpers/receiver';

/** The receiver's group commit, driven directly: batching, a bad row in a batch, and duplicate races. */
describe('ReceiptWriter', () => {
  let t: TestApp;
  let writer: ReceiptWriter;
  let dataSource: DataSource;
  let sourceId: string;
  let programId: string;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_RUN_WORKERS: 'false', HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR });
    const admin = await t.login();
    sourceId = (await create(t, admin, '/api/sources', { slug: 'writer', scheme: 'none' })).id;
    programId = (await create(t, admin, '/api/programs', { name: 'writer-sync', command: program('sync.sh') })).id;
    writer = t.app.get(ReceiptWriter);
    dataSource = t.app.get(DataSource);
  });
  afterAll(() => t.close());

  const receipt = (overrides: Partial<ReceiptRow> = {}): ReceiptRow => ({
    id: randomUUID(),
    source_id: sourceId,
    slug: 'writer',
    delivery_id: null,
    method: 'POST',
    ip: '127.0.0.1',
    event: 'push',
    verdict: 'unmatched',
    reason: null,
    status_code: 202,
    headers: { 'content-type': 'application/json' },
    body: '{}',
    body_bytes: 2,
    body_truncated: false,
    matched_rules: [],
    task_ids: [],
    duplicate_of: null,
    duration_ms: 1,
    ...overrides,
  });
  const deduped = (deliveryId: string, r = receipt({ delivery_id: deliveryId })): ReceiptWrite => ({
    receipt: r,
    runs: [],
    dedup: { sourceId, key: deliveryId, windowSeconds: 60 },
  });
  /** An accepted receipt with one task run of it (of program `runOf`, the test program unless told). */
  const withRun = (
    overrides: Partial<ReceiptRow> = {},
    runOf = programId,
  ): { receipt: ReceiptRow; runs: PreparedRun[] } => {
    const r = receipt({ verdict: 'accepted', ...overrides });
    const run: PreparedRun = {
      id: randomUUID(),
      program_id: runOf,
      program_name: 'writer-sync',
      trigger: 'receipt',
      receipt_id: r.id,
      source_id: sourceId,
      rule_id: null,
      retry_of: null,
      triggered_by: null,
      attempt: 1,
      max_attempts: 1,
      argv: ['x'],
      env: {},
      concurrency_key: null,
    };
    r.task_ids = [run.id];
    return { receipt: r, runs: [run] };
  };
  const runsOf = async (receiptIds: string[]) =>
    (await dataSource.query(
      `SELECT id, receipt_id, status FROM task_runs WHERE receipt_id = ANY($1::uuid[]) ORDER BY id`,
      [receiptIds],
    )) as Array<{ id: string; receipt_id: string; status: string }>;
  const stored = async (id: string) =>
    (
      (await dataSource.query(`SELECT verdict, status_code, duplicate_of FROM receipts WHERE id = $1`, [id])) as Array<{
        verdict: string;
        status_code: number;
        duplicate_of: string | null;
      }>
    )[0];

  it('writes many concurrent receipts, and a bad one fails alone while its batch neighbours are stored', async () => {
    const good = Array.from({ length: 20 }, () => receipt());
    // A receipt of a source that does not exist breaks the foreign key, and with it the batch it lands in.
    const bad = receipt({ source_id: randomUUID() });
    const writes = [...good.slice(0, 10), bad, ...good.slice(10)].map((r) => writer.write({ receipt: r, runs: [] }));
    const results = await Promise.allSettled(writes);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[10].status).toBe('rejected');
    for (const r of good) expect(await stored(r.id)).toMatchObject({ verdict: 'unmatched', status_code: 202 });
    expect(await stored(bad.id)).toBeUndefined();
  });

  it('marks every copy of a delivery id after the first as a duplicate of it, inside one batch and across batches', async () => {
    const first = deduped('same-delivery');
    const copies = Array.from({ length: 9 }, () => deduped('same-delivery'));
    const outcomes = await Promise.all([first, ...copies].map((w) => writer.write(w)));
    const winners = outcomes.filter((o) => !o.duplicateOf);
    expect(winners).toHaveLength(1);
    const winnerId = [first, ...copies][outcomes.findIndex((o) => !o.duplicateOf)].receipt.id;
    for (const o of outcomes.filter((x) => x.duplicateOf)) expect(o.duplicateOf!.receipt_id).toBe(winnerId);
    const later = await writer.write(deduped('same-delivery'));
    expect(later.duplicateOf?.receipt_id).toBe(winnerId);
    const rows = (await dataSource.query(
      `SELECT verdict, count(*)::int AS n FROM receipts WHERE delivery_id = 'same-delivery' GROUP BY verdict ORDER BY verdict`,
    )) as Array<{ verdict: string; n: number }>;
    expect(rows).toEqual([
      { verdict: 'duplicate', n: 10 },
      { verdict: 'unmatched', n: 1 },
    ]);
  });

  it("stores the task runs of the receipt that wins its delivery id, and none of its duplicates'", async () => {
    const writes = Array.from({ length: 6 }, (): ReceiptWrite => ({
      ...withRun({ delivery_id: 'with-runs' }),
      dedup: { sourceId, key: 'with-runs', windowSeconds: 60 },
    }));
    const plain = withRun();
    const outcomes = await Promise.all([...writes, plain].map((w) => writer.write(w)));
    const winners = writes.filter((_, i) => !outcomes[i].duplicateOf);
    expect(winners).toHaveLength(1);
    expect(outcomes[writes.length].duplicateOf).toBeUndefined();
    const later = {
      ...withRun({ delivery_id: 'with-runs' }),
      dedup: { sourceId, key: 'with-runs', windowSeconds: 60 },
    };
    expect((await writer.write(later)).duplicateOf?.receipt_id).toBe(winners[0].receipt.id);

    const all = [...writes, plain, later];
    const expected = [winners[0], plain]
      .map((w) => ({ id: w.runs[0].id, receipt_id: w.receipt.id, status: 'queued' }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(await runsOf(all.map((w) => w.receipt.id))).toEqual(expected);
    for (const [i, w] of writes.entries()) {
      if (w === winners[0]) continue;
      expect(outcomes[i].duplicateOf?.receipt_id).toBe(winners[0].receipt.id);
      expect(await stored(w.receipt.id)).toMatchObject({ verdict: 'duplicate', status_code: 200 });
    }
  });

  it('commits a receipt with its task runs or not at all: runs that cannot be stored take their receipt down, alone', async () => {
    // A run of a program that does not exist breaks the task runs' foreign key, after its receipt was written.
    const broken = withRun({}, randomUUID());
    const neighbours = Array.from({ length: 8 }, () => withRun());
    const results = await Promise.allSettled(
      [...neighbours.slice(0, 4), broken, ...neighbours.slice(4)].map((w) => writer.write(w)),
    );
    expect(results.map((r) => r.status)).toEqual([
      ...Array<string>(4).fill('fulfilled'),
      'rejected',
      ...Array<string>(4).fill('fulfilled'),
    ]);
    expect(await stored(broken.receipt.id)).toBeUndefined();
    expect(await runsOf([broken.receipt.id])).toEqual([]);
    for (const w of neighbours) {
      expect(await stored(w.receipt.id)).toMatchObject({ verdict: 'accepted', status_code: 202 });
      expect(await runsOf([w.receipt.id])).toEqual([{ id: w.runs[0].id, receipt_id: w.receipt.id, status: 'queued' }]);
    }
  });

  // A transaction held open on a second connection needs a real server (the embedded store has one session).
  (usingRealPostgres() ? it : it.skip)(
    'points a duplicate at an original that was still committing when its batch ran',
    async () => {
      const client = new Client({ connectionString: t.db.url });
      const observer = new Client({ connectionString: t.db.url });
      await client.connect();
      await observer.connect();
      try {
        const originalId = randomUUID();
        const holder = ((await client.query('SELECT pg_backend_pid() AS pid')).rows as Array<{ pid: number }>)[0].pid;
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO receipts (id, source_id, slug, delivery_id, method, verdict, status_code, task_ids) VALUES ($1, $2, 'writer', 'raced', 'POST', 'accepted', 202, '{}')`,
          [originalId, sourceId],
        );
        await client.query(
          `INSERT INTO inbound_dedup (source_id, delivery_id, receipt_id, expires_at) VALUES ($1, 'raced', $2, now() + interval '1 minute')`,
          [sourceId, originalId],
        );
        const copy = deduped('raced');
        let settled = false;
        const pending = writer.write(copy).finally(() => (settled = true));
        // The copy waits on the uncommitted original rather than answering before its fate is known: its batch is
        // seen blocked by the transaction that holds the original.
        await eventually(
          async () => {
            const blocked = await observer.query(
              'SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
              [holder],
            );
            return blocked.rows.length > 0 ? true : undefined;
          },
          20_000,
          'the copy to wait on the original',
        );
        expect(settled).toBe(false);
        await client.query('COMMIT');
        const outcome = await pending;
        expect(outcome.duplicateOf).toMatchObject({ receipt_id: originalId, status_code: 202, matched: false });
        expect(await stored(copy.receipt.id)).toEqual({
          verdict: 'duplicate',
          status_code: 200,
          duplicate_of: originalId,
        });
      } finally {
        await client.end();
        await observer.end();
      }
    },
  );
});
