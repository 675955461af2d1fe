import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { type ReceiptRow, type ReceiptWrite, ReceiptWriter } from '@hookhub/inbound';
import { type TestApp, bootApp } from './helpers/app';
import { usingRealPostgres } from './helpers/database';
import { create } from './helpers/inbound';
import { eventually } from './helpers/receiver';

/** The receiver's group commit, driven directly: batching, a bad row in a batch, and duplicate races. */
describe('ReceiptWriter', () => {
  let t: TestApp;
  let writer: ReceiptWriter;
  let dataSource: DataSource;
  let sourceId: string;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_RUN_WORKERS: 'false' });
    const admin = await t.login();
    sourceId = (await create(t, admin, '/api/sources', { slug: 'writer', scheme: 'none' })).id;
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
  const stored = async (id: string) =>
    ((await dataSource.query(`SELECT verdict, status_code, duplicate_of FROM receipts WHERE id = $1`, [id])) as Array<{ verdict: string; status_code: number; duplicate_of: string | null }>)[0];

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
    const rows = (await dataSource.query(`SELECT verdict, count(*)::int AS n FROM receipts WHERE delivery_id = 'same-delivery' GROUP BY verdict ORDER BY verdict`)) as Array<{ verdict: string; n: number }>;
    expect(rows).toEqual([
      { verdict: 'duplicate', n: 10 },
      { verdict: 'unmatched', n: 1 },
    ]);
  });

  // A transaction held open on a second connection needs a real server (the embedded store has one session).
  (usingRealPostgres() ? it : it.skip)('points a duplicate at an original that was still committing when its batch ran', async () => {
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
      await client.query(`INSERT INTO inbound_dedup (source_id, delivery_id, receipt_id, expires_at) VALUES ($1, 'raced', $2, now() + interval '1 minute')`, [sourceId, originalId]);
      const copy = deduped('raced');
      let settled = false;
      const pending = writer.write(copy).finally(() => (settled = true));
      // The copy waits on the uncommitted original rather than answering before its fate is known: its batch is
      // seen blocked by the transaction that holds the original.
      await eventually(async () => {
        const blocked = await observer.query('SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [holder]);
        return blocked.rows.length > 0 ? true : undefined;
      }, 20_000, 'the copy to wait on the original');
      expect(settled).toBe(false);
      await client.query('COMMIT');
      const outcome = await pending;
      expect(outcome.duplicateOf).toMatchObject({ receipt_id: originalId, status_code: 202, matched: false });
      expect(await stored(copy.receipt.id)).toEqual({ verdict: 'duplicate', status_code: 200, duplicate_of: originalId });
    } finally {
      await client.end();
      await observer.end();
    }
  });
});
