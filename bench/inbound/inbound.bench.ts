/**
 * Inbound benchmark: signed triggers accepted per second and latency at 50 concurrent clients, the hub
 * against a bare Node HTTP server (bench/inbound/baseline-server.ts) measured in the same run on the same
 * Postgres. Each accepted hub request verifies the signature, de-duplicates the delivery id, routes by a rule
 * and commits a receipt and a task run before answering 202.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { type LoadResult, runLoad } from '../lib/load';
import { freePort, freshDatabase, postgresCpuSeconds, processCpuSeconds, startNode } from '../lib/processes';
import type { BenchContext, BenchReport } from '../lib/report';

const SECRET = 'bench-secret-' + randomBytes(8).toString('hex');

function payload(n: number): Buffer {
  // A GitHub push event of a typical size (about 1.5 KB).
  return Buffer.from(
    JSON.stringify({
      ref: 'refs/heads/main',
      before: randomBytes(20).toString('hex'),
      after: randomBytes(20).toString('hex'),
      repository: { id: 1296269, name: 'app', full_name: 'acme/app', private: true, default_branch: 'main', html_url: 'https://github.com/acme/app' },
      pusher: { name: 'octocat', email: 'octocat@example.com' },
      sender: { login: 'octocat', id: 1, type: 'User' },
      head_commit: {
        id: randomBytes(20).toString('hex'),
        message: `Deploy build ${n}\n\nA commit message long enough to look like a real one, with a body that explains the change in a few words.`,
        timestamp: new Date().toISOString(),
        author: { name: 'Octo Cat', email: 'octocat@example.com', username: 'octocat' },
        added: ['src/feature.ts'],
        removed: [],
        modified: ['src/index.ts', 'README.md', 'package.json'],
      },
      commits: [{ id: randomBytes(20).toString('hex'), message: `Deploy build ${n}`, distinct: true }],
    }),
  );
}

function signed(path: string, n: number) {
  const body = payload(n);
  return {
    method: 'POST',
    path,
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/bench',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex'),
    },
  };
}

async function count(url: string, sql: string): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  const r = await c.query<{ n: string }>(sql);
  await c.end();
  return Number(r.rows[0].n);
}

async function api<T>(base: string, method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} gave ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

const cpuOf = (pid: number) => ({ server: () => processCpuSeconds(pid), postgres: postgresCpuSeconds });

interface Measured {
  result: LoadResult;
  rows: number;
  rowsLabel: string;
}

async function measureBaseline(ctx: BenchContext): Promise<Measured> {
  const db = await freshDatabase(ctx.databaseUrl, 'hookhub_bench_baseline');
  const port = await freePort();
  const server = await startNode(resolve(ctx.distDir, 'bench/inbound/baseline-server.js'), { DATABASE_URL: db.url, PORT: String(port), BENCH_SECRET: SECRET }, port, '/ready');
  try {
    const result = await runLoad({ ...ctx.load, baseUrl: server.url, expectStatus: 202, build: (n) => signed('/hook', n), cpu: cpuOf(server.child.pid!) });
    const rows = await count(db.url, 'SELECT count(*) AS n FROM baseline_triggers');
    return { result, rows, rowsLabel: `${rows} rows` };
  } finally {
    await server.stop();
    await db.drop();
  }
}

async function measureHub(ctx: BenchContext): Promise<Measured> {
  const db = await freshDatabase(ctx.databaseUrl, 'hookhub_bench_hub');
  const dataDir = mkdtempSync(join(tmpdir(), 'hookhub-bench-'));
  const programs = join(dataDir, 'programs');
  mkdirSync(programs);
  writeFileSync(join(programs, 'deploy.sh'), '#!/bin/sh\necho "deploy $1 $2"\n');
  chmodSync(join(programs, 'deploy.sh'), 0o755);
  const port = await freePort();
  const password = 'bench-' + randomBytes(12).toString('hex');
  const hub = await startNode(
    resolve(ctx.distDir, 'apps/api/src/main.js'),
    {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: db.url,
      HOOKHUB_DATA_DIR: dataDir,
      HOOKHUB_JWT_SECRET: randomBytes(48).toString('base64'),
      HOOKHUB_MASTER_KEY: randomBytes(32).toString('base64'),
      HOOKHUB_ADMIN_PASSWORD: password,
      HOOKHUB_PROGRAM_DIRS: programs,
      // A receiver scaled apart from its workers: runs are queued, not executed, during the measurement.
      HOOKHUB_RUN_WORKERS: 'false',
      ...ctx.hubEnv,
    },
    port,
    '/health/ready',
    ctx.hubNodeArgs,
  );
  try {
    const { access_token: token } = await api<{ access_token: string }>(hub.url, 'POST', '/api/auth/login', null, { username: 'admin', password });
    const program = await api<{ id: string }>(hub.url, 'POST', '/api/programs', token, { name: 'deploy', command: join(programs, 'deploy.sh') });
    const source = await api<{ id: string; slug: string }>(hub.url, 'POST', '/api/sources', token, {
      slug: 'github',
      name: 'GitHub',
      scheme: 'github',
      secrets: [SECRET],
      rate_limit: 1_000_000,
    });
    await api(hub.url, 'POST', `/api/sources/${source.id}/rules`, token, {
      name: 'deploy main',
      condition: { and: [{ path: 'event', eq: 'push' }, { path: 'body.ref', eq: 'refs/heads/main' }] },
      program_id: program.id,
      args: [
        { template: '{{body.repository.full_name}}', pattern: '^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$' },
        { template: '{{body.after}}', pattern: '^[0-9a-f]{40}$' },
      ],
    });
    const probe = signed(`/hooks/${source.slug}`, 0);
    const res = await fetch(hub.url + probe.path, { method: 'POST', headers: probe.headers, body: probe.body });
    const answer = (await res.json()) as { task_ids?: string[] };
    if (res.status !== 202 || answer.task_ids?.length !== 1) throw new Error(`probe trigger gave ${res.status}: ${JSON.stringify(answer)}`);

    const result = await runLoad({ ...ctx.load, baseUrl: hub.url, expectStatus: 202, build: (n) => signed(`/hooks/${source.slug}`, n), cpu: cpuOf(hub.child.pid!) });
    const receipts = await count(db.url, `SELECT count(*) AS n FROM receipts WHERE verdict = 'accepted'`);
    const runs = await count(db.url, `SELECT count(*) AS n FROM task_runs WHERE receipt_id IS NOT NULL`);
    return { result, rows: Math.min(receipts, runs), rowsLabel: `${receipts} receipts, ${runs} runs` };
  } finally {
    await hub.stop();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function inboundBench(ctx: BenchContext): Promise<BenchReport> {
  const baseline = await measureBaseline(ctx);
  const hub = await measureHub(ctx);
  const rateRatio = hub.result.rps / baseline.result.rps;
  const p99Ratio = hub.result.p99 / baseline.result.p99;
  return {
    title: `Inbound: signed triggers, ${ctx.load.concurrency} concurrent clients, ${ctx.load.durationMs / 1000} s after ${ctx.load.warmupMs / 1000} s warm-up`,
    rows: [
      { name: 'baseline: node:http + HMAC + one INSERT per request', result: baseline.result, written: baseline.rowsLabel },
      { name: 'hookhub: /hooks/{slug}, receipt + task run per trigger', result: hub.result, written: hub.rowsLabel },
    ],
    checks: [
      { name: 'hub rate / baseline rate', value: rateRatio, target: '>= 1.00 (floor 0.60)', pass: rateRatio >= 0.6, met: rateRatio >= 1 },
      { name: 'hub p99 / baseline p99', value: p99Ratio, target: '<= 1.00', pass: true, met: p99Ratio <= 1 },
      { name: 'every accepted trigger committed', value: hub.rows >= hub.result.ok ? 1 : 0, target: 'rows >= accepted', pass: hub.rows >= hub.result.ok && baseline.rows >= baseline.result.ok, met: hub.rows >= hub.result.ok },
      { name: 'errors (hub + baseline)', value: hub.result.errors + baseline.result.errors, target: '0', pass: hub.result.errors + baseline.result.errors === 0, met: hub.result.errors + baseline.result.errors === 0 },
    ],
  };
}
