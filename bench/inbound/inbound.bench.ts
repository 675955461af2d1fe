/**
 * Inbound benchmark: signed triggers accepted per second and latency at 50 concurrent clients, the hub
 * against a bare Node HTTP server (bench/inbound/baseline-server.ts) measured in the same run on the same
 * Postgres. Each accepted hub request verifies the signature, de-duplicates the delivery id, routes by a rule
 * and commits a receipt and a task run before answering 202.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { githubPushRoute, signedPush } from '../lib/github';
import { count, startHub } from '../lib/hub';
import { type LoadResult, mergeResults, runLoad } from '../lib/load';
import { PostgresCpuMeter, freePort, freshDatabase, processCpuSeconds, startNode } from '../lib/processes';
import type { BenchContext, BenchReport } from '../lib/report';

const SECRET = 'bench-secret-' + randomBytes(8).toString('hex');

const cpuOf = (pid: number) => ({ server: () => processCpuSeconds(pid), postgres: new PostgresCpuMeter() });

/** A server under test, started and ready, with its own database. */
interface Target {
  name: string;
  path: string;
  url: string;
  pid: number;
  /** What it has committed, and whether that covers `accepted` requests. */
  written: (accepted: number) => Promise<{ label: string; complete: boolean }>;
  stop: () => Promise<void>;
}

async function startBaseline(ctx: BenchContext): Promise<Target> {
  const db = await freshDatabase(ctx.databaseUrl, 'hookhub_bench_baseline');
  const port = await freePort();
  try {
    const server = await startNode(
      resolve(ctx.distDir, 'bench/inbound/baseline-server.js'),
      { DATABASE_URL: db.url, PORT: String(port), BENCH_SECRET: SECRET },
      port,
      '/ready',
    );
    return {
      name: 'baseline: node:http + HMAC + one INSERT per request',
      path: '/hook',
      url: server.url,
      pid: server.child.pid!,
      written: async (accepted) => {
        const rows = await count(db.url, 'SELECT count(*) AS n FROM baseline_triggers');
        return { label: `${rows} rows`, complete: rows >= accepted };
      },
      stop: async () => {
        await server.stop();
        await db.drop();
      },
    };
  } catch (err) {
    await db.drop();
    throw err;
  }
}

async function startInboundHub(ctx: BenchContext): Promise<Target> {
  let programs = '';
  const hub = await startHub(
    ctx,
    'hub',
    {
      // A receiver scaled apart from its workers: runs are queued, not executed, during the measurement.
      HOOKHUB_RUN_WORKERS: 'false',
    },
    (dataDir) => {
      programs = join(dataDir, 'programs');
      mkdirSync(programs);
      writeFileSync(join(programs, 'deploy.sh'), '#!/bin/sh\necho "deploy $1 $2"\n');
      chmodSync(join(programs, 'deploy.sh'), 0o755);
      return { HOOKHUB_PROGRAM_DIRS: programs };
    },
  );
  try {
    const path = await githubPushRoute(
      hub,
      { name: 'deploy', command: join(programs, 'deploy.sh') },
      'deploy main',
      SECRET,
    );
    const probe = signedPush(path, SECRET, 0);
    const res = await fetch(hub.url + probe.path, { method: 'POST', headers: probe.headers, body: probe.body });
    const answer = (await res.json()) as { task_ids?: string[] };
    if (res.status !== 202 || answer.task_ids?.length !== 1)
      throw new Error(`probe trigger gave ${res.status}: ${JSON.stringify(answer)}`);
    return {
      name: 'hookhub: /hooks/{slug}, receipt + task run per trigger',
      path,
      url: hub.url,
      pid: hub.pid,
      written: async (accepted) => {
        const receipts = await count(hub.databaseUrl, `SELECT count(*) AS n FROM receipts WHERE verdict = 'accepted'`);
        const runs = await count(hub.databaseUrl, `SELECT count(*) AS n FROM task_runs WHERE receipt_id IS NOT NULL`);
        return { label: `${receipts} receipts, ${runs} runs`, complete: receipts >= accepted && runs >= accepted };
      },
      stop: hub.stop,
    };
  } catch (err) {
    await hub.stop();
    throw err;
  }
}

/**
 * Both servers run side by side (the idle one costs nothing) and are measured in alternating rounds, so a
 * change in the machine's load during the run touches both rather than skewing the ratio.
 */
export async function inboundBench(ctx: BenchContext): Promise<BenchReport> {
  const targets: Target[] = [];
  try {
    targets.push(await startBaseline(ctx));
    targets.push(await startInboundHub(ctx));
    const rounds: LoadResult[][] = targets.map(() => []);
    for (let round = 0; round < ctx.rounds; round++) {
      for (const [i, target] of targets.entries()) {
        rounds[i].push(
          await runLoad({
            ...ctx.load,
            baseUrl: target.url,
            expectStatus: 202,
            build: (n) => signedPush(target.path, SECRET, n),
            cpu: cpuOf(target.pid),
          }),
        );
      }
    }
    const results = rounds.map(mergeResults);
    const written = await Promise.all(targets.map((t, i) => t.written(results[i].ok + 1)));
    const [baseline, hub] = results;
    const rateRatio = hub.rps / baseline.rps;
    const p99Ratio = hub.p99 / baseline.p99;
    const errors = baseline.errors + hub.errors;
    return {
      title: `Inbound: signed triggers, ${ctx.load.concurrency} concurrent clients, ${ctx.rounds} alternating rounds of ${ctx.load.durationMs / 1000} s (after ${ctx.load.warmupMs / 1000} s warm-up each)`,
      rows: targets.map((t, i) => ({ name: t.name, result: results[i], written: written[i].label })),
      checks: [
        {
          name: 'hub rate / baseline rate',
          value: rateRatio,
          target: '>= 1.00 (floor 0.60)',
          pass: rateRatio >= 0.6,
          met: rateRatio >= 1,
        },
        { name: 'hub p99 / baseline p99', value: p99Ratio, target: '<= 1.00', pass: true, met: p99Ratio <= 1 },
        {
          name: 'every accepted trigger committed',
          value: written.every((w) => w.complete) ? 1 : 0,
          target: '1 (rows >= accepted)',
          pass: written.every((w) => w.complete),
          met: written.every((w) => w.complete),
        },
        { name: 'errors (hub + baseline)', value: errors, target: '0', pass: errors === 0, met: errors === 0 },
      ],
    };
  } finally {
    for (const t of targets.reverse()) await t.stop();
  }
}
