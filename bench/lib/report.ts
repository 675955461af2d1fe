import type { LoadResult } from './load';

export interface BenchContext {
  /** The Postgres server the benchmarks create their databases on. */
  databaseUrl: string;
  /** The built project (`dist/`). */
  distDir: string;
  load: { concurrency: number; warmupMs: number; durationMs: number };
  /** Alternating rounds per system. */
  rounds: number;
  /** Extra environment for the hub under test. */
  hubEnv: Record<string, string>;
  /** Extra node flags for the hub under test. */
  hubNodeArgs: string[];
}

export interface BenchRow {
  name: string;
  result: LoadResult;
  written: string;
}

export interface BenchCheck {
  name: string;
  value: number;
  target: string;
  /** Above the floor: a failed floor makes `npm run bench` exit non-zero. */
  pass: boolean;
  /** The target itself is met. */
  met: boolean;
}

export interface BenchTable {
  head: string[];
  rows: string[][];
}

export interface BenchReport {
  title: string;
  /** Closed-loop load results, one per system (the inbound benchmark's shape). */
  rows: BenchRow[];
  /** Other results, printed as they are. */
  tables?: BenchTable[];
  checks: BenchCheck[];
  /** Lines printed under the tables (unexpected answers and the like). */
  notes?: string[];
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  return [
    line(head),
    '|' + widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|') + '|',
    ...rows.map(line),
  ].join('\n');
}

export const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

/** Prints a report as Markdown tables (ready to paste into the README). */
export function formatReport(report: BenchReport): string {
  const results =
    report.rows.length === 0
      ? []
      : [
          table(
            [
              'system',
              'accepted/s',
              'p50 ms',
              'p99 ms',
              'max ms',
              'errors',
              'server CPU ms/req',
              'Postgres CPU ms/req',
              'written',
            ],
            report.rows.map((r) => [
              r.name,
              r.result.rps.toFixed(0),
              ms(r.result.p50),
              ms(r.result.p99),
              ms(r.result.max),
              String(r.result.errors),
              r.result.serverCpuMs.toFixed(3),
              r.result.postgresCpuMs.toFixed(3),
              r.written,
            ]),
          ),
          '',
        ];
  const checks = table(
    ['check', 'value', 'target', 'result'],
    report.checks.map((c) => [c.name, c.value.toFixed(2), c.target, c.met ? 'met' : c.pass ? 'above floor' : 'FAILED']),
  );
  const tables = (report.tables ?? []).flatMap((t) => [table(t.head, t.rows), '']);
  const samples = [
    ...report.rows.flatMap((r) => r.result.samples.map((s) => `  ${r.name}: ${s}`)),
    ...(report.notes ?? []).map((n) => `  ${n}`),
  ];
  return [
    `### ${report.title}`,
    '',
    ...results,
    ...tables,
    checks,
    ...(samples.length ? ['', 'unexpected answers:', ...samples] : []),
  ].join('\n');
}
