import { Agent, request } from 'node:http';
import type { PostgresCpuMeter } from './processes';

export interface LoadRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** What one or more measured windows saw. */
interface RawLoad {
  /** Latency of every request answered with the expected status, sorted. */
  latencies: number[];
  /** Requests answered with another status, or that failed. */
  errors: number;
  /** The first few unexpected answers, for the report. */
  samples: string[];
  seconds: number;
  /** CPU seconds the server process and Postgres spent in the window. */
  serverCpuSeconds: number;
  postgresCpuSeconds: number;
}

export interface LoadResult extends RawLoad {
  /** Requests answered with the expected status. */
  ok: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  /** CPU milliseconds per answered request: the server process, and Postgres. */
  serverCpuMs: number;
  postgresCpuMs: number;
}

export interface LoadOptions {
  baseUrl: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  expectStatus: number;
  /** Builds request number `n` (unique per request, so delivery ids never repeat). */
  build: (n: number) => LoadRequest;
  /** The server's cumulative CPU seconds, and a meter of Postgres's, read at the window's edges. */
  cpu?: { server: () => number; postgres: PostgresCpuMeter };
  /**
   * Paces the clients: request `n` is not sent before `n / ratePerSecond` seconds after the start, so the
   * offered rate is at most this (and `concurrency` still caps the requests in flight). Closed loop when unset.
   */
  ratePerSecond?: number;
}

function send(agent: Agent, base: URL, req: LoadRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.path,
        headers: { ...req.headers, 'content-length': String(req.body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Closed-loop load: `concurrency` clients on keep-alive connections, each sending its next request as soon
 * as the previous one is answered. Requests started during the warm-up are not counted; latency is measured
 * from just before the request is written to the end of its response.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const base = new URL(opts.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  let n = 0;
  const latencies: number[] = [];
  let errors = 0;
  const samples: string[] = [];
  const start = performance.now();
  const measureFrom = start + opts.warmupMs;
  const stopAt = measureFrom + opts.durationMs;
  let measuredEnd = measureFrom;
  let serverCpuAtStart = 0;
  const cpuTimer = setTimeout(() => {
    serverCpuAtStart = opts.cpu?.server() ?? 0;
    opts.cpu?.postgres.start();
  }, opts.warmupMs);

  const client = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const i = n++;
      if (opts.ratePerSecond) {
        const wait = start + (i * 1000) / opts.ratePerSecond - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() >= stopAt) break;
      }
      const req = opts.build(i);
      const t0 = performance.now();
      const { status, body } = await send(agent, base, req).catch((err: Error) => ({ status: 0, body: err.message }));
      const t1 = performance.now();
      if (t0 < measureFrom) continue;
      measuredEnd = Math.max(measuredEnd, t1);
      if (status === opts.expectStatus) latencies.push(t1 - t0);
      else {
        errors++;
        if (samples.length < 3) samples.push(`${status}: ${body.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  clearTimeout(cpuTimer);
  const serverCpuSeconds = (opts.cpu?.server() ?? 0) - serverCpuAtStart;
  const postgresCpuSeconds = opts.cpu?.postgres.stop() ?? 0;
  agent.destroy();
  return summarize({
    latencies: latencies.sort((a, b) => a - b),
    errors,
    samples,
    seconds: (measuredEnd - measureFrom) / 1000,
    serverCpuSeconds,
    postgresCpuSeconds,
  });
}

/**
 * Exactly `total` requests, `concurrency` at a time on keep-alive connections (closed loop, no warm-up): to
 * fill a queue through the real path. Timed from the first request to the last answer.
 */
export async function runCount(
  opts: Pick<LoadOptions, 'baseUrl' | 'concurrency' | 'expectStatus' | 'build'> & { total: number },
): Promise<LoadResult> {
  const base = new URL(opts.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  let n = 0;
  const latencies: number[] = [];
  let errors = 0;
  const samples: string[] = [];
  const start = performance.now();
  const client = async (): Promise<void> => {
    while (n < opts.total) {
      const req = opts.build(n++);
      const t0 = performance.now();
      const { status, body } = await send(agent, base, req).catch((err: Error) => ({ status: 0, body: err.message }));
      if (status === opts.expectStatus) latencies.push(performance.now() - t0);
      else {
        errors++;
        if (samples.length < 3) samples.push(`${status}: ${body.slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.total) }, client));
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return summarize({
    latencies: latencies.sort((a, b) => a - b),
    errors,
    samples,
    seconds,
    serverCpuSeconds: 0,
    postgresCpuSeconds: 0,
  });
}

function summarize(raw: RawLoad): LoadResult {
  const { latencies } = raw;
  const answered = Math.max(1, latencies.length + raw.errors);
  return {
    ...raw,
    ok: latencies.length,
    rps: latencies.length / raw.seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : NaN,
    serverCpuMs: (raw.serverCpuSeconds * 1000) / answered,
    postgresCpuMs: (raw.postgresCpuSeconds * 1000) / answered,
  };
}

/** Several rounds of the same load as one result: total requests over total measured time, all latencies. */
export function mergeResults(rounds: LoadResult[]): LoadResult {
  const sum = (pick: (r: LoadResult) => number) => rounds.reduce((total, r) => total + pick(r), 0);
  return summarize({
    latencies: rounds.flatMap((r) => r.latencies).sort((a, b) => a - b),
    errors: sum((r) => r.errors),
    samples: rounds.flatMap((r) => r.samples).slice(0, 3),
    seconds: sum((r) => r.seconds),
    serverCpuSeconds: sum((r) => r.serverCpuSeconds),
    postgresCpuSeconds: sum((r) => r.postgresCpuSeconds),
  });
}
