import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { DataSource } from 'typeorm';
import { type TestApp, bootApp } from './helpers/app';
import { buildApps } from './helpers/build';
import { usingRealPostgres } from './helpers/database';
import { Receiver, eventually } from './helpers/receiver';

interface Delivery {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
}

/**
 * A worker process is killed (SIGKILL, no shutdown hook runs) while its deliveries are in flight; another
 * worker process sends them again once their leases run out. Both are the built `apps/worker`, sharing a real
 * Postgres with an API that runs no workers. The embedded store serves one process, so this needs a server.
 */
(usingRealPostgres() ? describe : describe.skip)(
  'a delivery worker killed mid-delivery (e2e, worker processes)',
  () => {
    let t: TestApp;
    let admin: string;
    let workerMain: string;
    const children: ChildProcess[] = [];

    const startWorker = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [workerMain], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ...t.env,
          HOOKHUB_DELIVERY_LEASE_MS: '1500',
          HOOKHUB_QUEUE_POLL_MS: '100',
          HOOKHUB_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      // A worker that cannot start (bad config, no database) exits at once: fail here rather than time out later.
      await new Promise((r) => setTimeout(r, 300));
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}: ${output}`);
      return child;
    };

    beforeAll(async () => {
      workerMain = buildApps('worker-crash').worker;
      t = await bootApp({
        HOOKHUB_RUN_WORKERS: 'false',
        HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
        HOOKHUB_RETRY_SCHEDULE: '30',
      });
      admin = await t.login();
    }, 180_000);

    afterAll(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await t?.close();
    });

    it("sends the killed worker's deliveries again after their leases, with the same webhook-id, each once more", async () => {
      // Every request hangs until the worker holding it is gone; after that the receiver answers 200.
      let killed = false;
      const receiver = await Receiver.start(() => (killed ? { status: 200 } : { hang: true }));
      try {
        const w = await t.request<{ id: string }>({
          method: 'POST',
          url: '/api/webhooks',
          token: admin,
          body: { url: receiver.url, events: ['crash.*'], timeout_ms: 60_000 },
        });
        expect(w.statusCode).toBe(201);
        const events: string[] = [];
        for (const n of [1, 2, 3]) {
          const res = await t.request<{ id: string; deliveries: number }>({
            method: 'POST',
            url: '/api/events',
            token: admin,
            body: { type: 'crash.test', data: { n } },
          });
          expect(res.json.deliveries).toBe(1);
          events.push(res.json.id);
        }
        const first = await startWorker();
        await receiver.waitFor(3);
        const deliveries = async () =>
          (await t.request<{ items: Delivery[] }>({ url: `/api/webhooks/${w.json.id}/deliveries`, token: admin })).json
            .items;
        expect((await deliveries()).map((d) => d.status)).toEqual(['running', 'running', 'running']);
        // The API runs no workers: the three requests in flight are the worker process's (worker ids are host:pid:tag).
        const holders = (await t.app
          .get(DataSource)
          .query(`SELECT locked_by FROM deliveries WHERE webhook_id = $1`, [w.json.id])) as Array<{
          locked_by: string;
        }>;
        expect(holders.map((h) => h.locked_by.split(':').at(-2))).toEqual([
          String(first.pid),
          String(first.pid),
          String(first.pid),
        ]);
        const exited = once(first, 'exit');
        first.kill('SIGKILL');
        await exited;
        killed = true;

        await startWorker();
        await receiver.waitFor(6);
        const done = await eventually(async () => {
          const list = await deliveries();
          return list.every((d) => d.status === 'succeeded') ? list : undefined;
        }, 15_000);
        expect(done.map((d) => d.attempts)).toEqual([2, 2, 2]);
        // Each event was sent twice (once to the dead worker's hanging request), with the same webhook-id.
        const ids = receiver.received.map((r) => String(r.headers['webhook-id']));
        expect([...ids].sort()).toEqual([...events, ...events].sort());
        expect(receiver.received.slice(3).map((r) => r.headers['x-hookhub-attempt'])).toEqual(['2', '2', '2']);
        // The log counts every request sent: the killed worker's three attempts are recorded by the worker that
        // took them over, outcome unknown ("lost"), beside the three successful second attempts.
        const logs = await t.request<{
          items: Array<{
            delivery_id: string;
            attempt: number;
            success: boolean;
            error_kind: string | null;
            error: string | null;
          }>;
          total: number;
        }>({
          url: `/api/webhooks/${w.json.id}/logs`,
          token: admin,
        });
        expect(logs.json.total).toBe(receiver.received.length);
        const byAttempt = (n: number) => logs.json.items.filter((a) => a.attempt === n);
        expect(byAttempt(1)).toHaveLength(3);
        expect(
          byAttempt(1).every((a) => !a.success && a.error_kind === 'lost' && a.error!.startsWith('worker lost')),
        ).toBe(true);
        expect(byAttempt(2)).toHaveLength(3);
        expect(byAttempt(2).every((a) => a.success && a.error_kind === null)).toBe(true);
        expect(new Set(byAttempt(1).map((a) => a.delivery_id))).toEqual(
          new Set(byAttempt(2).map((a) => a.delivery_id)),
        );
      } finally {
        await receiver.close();
      }
    });
  },
);
