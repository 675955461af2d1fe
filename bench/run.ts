/**
 * `npm run bench [-- name...]`: builds the project, runs the named benchmarks (all by default) against the
 * machine's Postgres and prints a table per benchmark. Exits non-zero if any result is below its floor.
 *
 * Settings: BENCH_DATABASE_URL (default DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_CONCURRENCY (50), BENCH_ROUNDS (3), BENCH_WARMUP_SECONDS (2), BENCH_SECONDS (8, per round); BENCH_HUB_<NAME>=value passes NAME=value
 * to the hub under test (e.g. BENCH_HUB_HOOKHUB_LOG_LEVEL=warn, BENCH_HUB_NODE_OPTIONS=--max-old-space-size=512);
 * BENCH_HUB_NODE_ARGS adds node flags (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")..
 */
import { resolve } from 'node:path';
import { consoleBench } from './console/console.bench';
import { inboundBench } from './inbound/inbound.bench';
import { memoryBench } from './memory/memory.bench';
import { outboundBench } from './outbound/outbound.bench';
import { tasksBench } from './tasks/tasks.bench';
import { type BenchContext, type BenchReport, formatReport } from './lib/report';

const BENCHMARKS: Record<string, (ctx: BenchContext) => Promise<BenchReport>> = {
  inbound: inboundBench,
  outbound: outboundBench,
  memory: memoryBench,
  tasks: tasksBench,
  console: consoleBench,
};

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !BENCHMARKS[n]);
  if (unknown.length)
    throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  const ctx: BenchContext = {
    databaseUrl:
      process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    distDir: resolve(process.cwd(), 'dist'),
    load: {
      concurrency: num('BENCH_CONCURRENCY', 50),
      warmupMs: num('BENCH_WARMUP_SECONDS', 2) * 1000,
      durationMs: num('BENCH_SECONDS', 8) * 1000,
    },
    rounds: num('BENCH_ROUNDS', 3),
    hubEnv: Object.fromEntries(
      Object.entries(process.env)
        .filter(([k, v]) => k.startsWith('BENCH_HUB_') && k !== 'BENCH_HUB_NODE_ARGS' && v !== undefined)
        .map(([k, v]) => [k.slice('BENCH_HUB_'.length), v as string]),
    ),
    hubNodeArgs: (process.env.BENCH_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean),
  };
  let failed = false;
  for (const name of names.length ? names : Object.keys(BENCHMARKS)) {
    const report = await BENCHMARKS[name](ctx);
    console.log(formatReport(report) + '\n');
    if (report.checks.some((c) => !c.pass)) failed = true;
  }
  if (failed) {
    console.error('bench: a result is below its floor');
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
