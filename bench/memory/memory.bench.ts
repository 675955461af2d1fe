import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, freshDatabase, startNode } from '../lib/processes';
import type { BenchCheck, BenchContext, BenchReport } from '../lib/report';

/** Seconds the hub idles after it is ready before its memory is read. */
const IDLE_SECONDS = Number(process.env.BENCH_MEMORY_IDLE_SECONDS ?? 10);

interface Sample {
  readyMs: number;
  /** Resident set after idling, MB. */
  idleMb: number;
  /** The highest resident set the process reached, MB. */
  peakMb: number;
}

function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** Starts the built hub with `env`, waits until ready, idles, reads its memory and stops it. */
async function measure(ctx: BenchContext, env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const started = Date.now();
  const hub = await startNode(
    resolve(ctx.distDir, 'apps/api/src/main.js'),
    { ...env, HOST: '127.0.0.1', PORT: String(port), ...ctx.hubEnv },
    port,
    '/health/ready',
    ctx.hubNodeArgs,
    180_000,
  );
  const readyMs = Date.now() - started;
  try {
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const pid = hub.child.pid!;
    return { readyMs, idleMb: statusMb(pid, 'VmRSS'), peakMb: statusMb(pid, 'VmHWM') };
  } finally {
    await hub.stop();
  }
}

/**
 * Idle memory of the hub on its embedded store (a first start, which creates the database, and a restart on
 * the same files) against the same hub on the Postgres server. Target: <= 350 MB idle on the embedded store.
 */
export async function memoryBench(ctx: BenchContext): Promise<BenchReport> {
  const secrets = {
    NODE_ENV: 'production',
    HOOKHUB_LOG_LEVEL: 'warn',
    HOOKHUB_JWT_SECRET: randomBytes(48).toString('base64'),
    HOOKHUB_MASTER_KEY: randomBytes(32).toString('base64'),
    HOOKHUB_ADMIN_PASSWORD: 'bench-' + randomBytes(12).toString('hex'),
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'hookhub-bench-memory-'));
  const db = await freshDatabase(ctx.databaseUrl, 'hookhub_bench_memory');
  try {
    const server = await measure(ctx, { ...secrets, DATABASE_URL: db.url, HOOKHUB_DATA_DIR: join(dataDir, 'server') });
    const first = await measure(ctx, { ...secrets, HOOKHUB_DATA_DIR: join(dataDir, 'embedded') });
    const restart = await measure(ctx, { ...secrets, HOOKHUB_DATA_DIR: join(dataDir, 'embedded') });
    const row = (name: string, s: Sample): string[] => [
      name,
      (s.readyMs / 1000).toFixed(1),
      s.idleMb.toFixed(0),
      s.peakMb.toFixed(0),
    ];
    const worst = Math.max(first.idleMb, restart.idleMb);
    const checks: BenchCheck[] = [
      {
        name: 'embedded idle RSS MB (worse of first start and restart)',
        value: worst,
        target: '<= 350 (floor 500)',
        pass: worst <= 500,
        met: worst <= 350,
      },
      {
        name: 'embedded idle RSS / Postgres-server idle RSS',
        value: worst / server.idleMb,
        target: '<= 2.5 (floor 4)',
        pass: worst / server.idleMb <= 4,
        met: worst / server.idleMb <= 2.5,
      },
    ];
    return {
      title: `memory: the hub idle ${IDLE_SECONDS} s after ready (RSS of the one process)`,
      rows: [],
      tables: [
        {
          head: ['store', 'ready s', 'idle RSS MB', 'peak RSS MB'],
          rows: [
            row('Postgres server (DATABASE_URL)', server),
            row('embedded, first start (creates the database)', first),
            row('embedded, restart', restart),
          ],
        },
      ],
      checks,
    };
  } finally {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
