/**
 * Outbound benchmark: events published to the hub over its API and delivered, signed, to a local receiver
 * (bench/outbound/receiver-server.ts, its own process), against a baseline measured in the same run: undici
 * posting the same bodies, signed the same way, straight to the same receiver. Three measurements:
 *
 * - throughput: 1,000 events x 5 webhooks, published by 10 concurrent clients; deliveries per second from
 *   the first publish to the last receipt (the baseline posts the 5,000 bodies with as many connections as
 *   the hub may use for 5 webhooks);
 * - backlog drain: the same 5,000 deliveries published to an API that runs no workers, then sent by a
 *   worker process (dist/apps/worker): delivery alone, as after a receiver's outage;
 * - fan-out: one event to 1,000 webhooks, from the publish to the last receipt;
 * - latency: 200 events per second to one webhook (open loop), from the start of the publish request to the
 *   receipt, after a warm-up.
 *
 * The receiver verifies every signature and counts repeats, so a lost, doubled or badly signed delivery
 * fails the run. Timestamps are wall-clock with sub-millisecond resolution in both processes.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { Pool } from 'undici';
import { api, startHub, type Hub } from '../lib/hub';
import { percentile } from '../lib/load';
import { PostgresCpuMeter, freePort, processCpuSeconds, startNode } from '../lib/processes';
import { type BenchCheck, type BenchContext, type BenchReport, ms } from '../lib/report';

const SECRET = 'whsec_' + randomBytes(32).toString('base64');
const LOAD_EVENTS = 1000;
const LOAD_WEBHOOKS = 5;
const FANOUT_WEBHOOKS = 1000;
const LATENCY_RATE = 200;
const PUBLISHERS = 10;
/** The hub's defaults: HOOKHUB_DELIVERY_CONCURRENCY and HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT. */
const HUB_CONCURRENCY = 64;
const HUB_IN_FLIGHT = 10;
const WAIT_MS = 120_000;

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A resource change of a typical size (about 600 bytes), as scenario 2 sends them. */
function resourceChange(n: number): Record<string, unknown> {
  return {
    resource: 'instance',
    id: `i-${randomBytes(8).toString('hex')}`,
    action: 'updated',
    sequence: n,
    changes: { status: { from: 'pending', to: 'running' }, size: { from: 'small', to: 'large' } },
    instance: {
      name: `web-${n}`,
      region: 'eu-west-1',
      zone: 'eu-west-1b',
      image: 'ubuntu-24.04-lts',
      ip: { private: '10.0.12.34', public: '203.0.113.45' },
      tags: { team: 'platform', env: 'production', service: 'checkout', cost_center: 'cc-1234' },
      volumes: [
        { id: 'vol-0a1b2c3d', size_gb: 100, type: 'ssd' },
        { id: 'vol-4e5f6a7b', size_gb: 500, type: 'hdd' },
      ],
    },
    actor: { type: 'user', id: 'u-42', name: 'Ada Lovelace' },
    request_id: randomUUID(),
  };
}

/** The body the hub sends for an event (compact, in this key order). */
function eventBody(id: string, type: string, data: Record<string, unknown>): string {
  return JSON.stringify({ id, type, timestamp: new Date().toISOString(), data });
}

function signedHeaders(id: string, body: string): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', Buffer.from(SECRET.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

interface ReceiverStats {
  received: number;
  bad: number;
  repeats: number;
}

/** The receiver process and its control endpoints. */
class Receiver {
  private constructor(
    readonly url: string,
    readonly stop: () => Promise<void>,
  ) {}

  static async start(ctx: BenchContext): Promise<Receiver> {
    const port = await freePort();
    const server = await startNode(resolve(ctx.distDir, 'bench/outbound/receiver-server.js'), { PORT: String(port), BENCH_SECRET: SECRET }, port, '/_ready');
    return new Receiver(server.url, server.stop);
  }

  async stats(): Promise<ReceiverStats> {
    return (await (await fetch(this.url + '/_stats')).json()) as ReceiverStats;
  }

  /** `[path, webhook-id, arrival ms]` per request since the last reset. */
  async receipts(): Promise<[string, string, number][]> {
    return (await (await fetch(this.url + '/_receipts')).json()) as [string, string, number][];
  }

  async reset(): Promise<void> {
    await fetch(this.url + '/_reset', { method: 'POST' });
  }

  /** Waits until `n` requests arrived (or WAIT_MS passed) and gives the counts. */
  async waitFor(n: number): Promise<ReceiverStats> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const stats = await this.stats();
      if (stats.received >= n || Date.now() > deadline) return stats;
      await sleep(10);
    }
  }
}

/** What one measured run saw. */
interface Run {
  expected: number;
  /** What the receiver counted over the whole run. */
  stats: ReceiverStats;
  /** Deliveries sent after the warm-up: the ones timed. */
  counted: number;
  /** From the first send after the warm-up to the last receipt of those sent after it. */
  seconds: number;
  /** Send (or publish) start to receipt, per delivery, sorted. */
  latencies: number[];
  /** Time to the publish's 202, per event (the hub only). */
  publishLatencies: number[];
  senderCpuSeconds: number;
  postgresCpuSeconds: number;
  errors: string[];
}

interface Totals {
  deliveries: number;
  rate: number;
  p50: number;
  p99: number;
  max: number;
  publishP50: number;
  senderCpuMs: number;
  postgresCpuMs: number;
  problems: number;
  errors: string[];
}

function totals(runs: Run[]): Totals {
  const deliveries = runs.reduce((t, r) => t + r.counted, 0);
  const seconds = runs.reduce((t, r) => t + r.seconds, 0);
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const publish = runs.flatMap((r) => r.publishLatencies).sort((a, b) => a - b);
  const per = Math.max(1, runs.reduce((t, r) => t + r.stats.received, 0));
  return {
    deliveries,
    rate: deliveries / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : NaN,
    publishP50: percentile(publish, 50),
    senderCpuMs: (runs.reduce((t, r) => t + r.senderCpuSeconds, 0) * 1000) / per,
    postgresCpuMs: (runs.reduce((t, r) => t + r.postgresCpuSeconds, 0) * 1000) / per,
    problems: runs.reduce((t, r) => t + Math.max(0, r.expected - r.stats.received) + r.stats.bad + r.stats.repeats, 0),
    errors: runs.flatMap((r) => r.errors),
  };
}

/** Something that sends deliveries to the receiver: the hub (through publishes) or the baseline. */
interface Sender {
  name: string;
  cpuSeconds: () => number;
  /**
   * Sends `events` events (event `i` is `data[i]`) of `type`; each reaches `paths` on the receiver.
   * `concurrency` is how many events are in flight at once (closed loop) unless `ratePerSecond` is set.
   * Answers the start time of each delivery, keyed `path webhook-id`, and each event's publish answer time.
   */
  send: (job: Job) => Promise<{ starts: Map<string, number>; publishLatencies: number[]; errors: string[] }>;
  close: () => Promise<void>;
}

interface Job {
  type: string;
  data: Record<string, unknown>[];
  paths: string[];
  concurrency: number;
  ratePerSecond?: number;
}

/** Runs `fn(i)` for i < n: `concurrency` at a time, or started at `ratePerSecond` regardless of answers. */
async function schedule(n: number, job: Job, fn: (i: number) => Promise<void>): Promise<void> {
  if (job.ratePerSecond) {
    const start = now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const wait = start + (i * 1000) / job.ratePerSecond - now();
      if (wait > 1) await sleep(wait);
      pending.push(fn(i));
    }
    await Promise.all(pending);
    return;
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(job.concurrency, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

function hubSender(hub: Hub, apiKey: string): Sender {
  const pool = new Pool(hub.url, { connections: PUBLISHERS * 2 });
  return {
    name: 'hookhub: POST /api/events, then delivery',
    cpuSeconds: () => processCpuSeconds(hub.pid),
    send: async (job) => {
      const starts = new Map<string, number>();
      const publishLatencies: number[] = [];
      const errors: string[] = [];
      await schedule(job.data.length, job, async (i) => {
        const started = now();
        try {
          const res = await pool.request({
            method: 'POST',
            path: '/api/events',
            headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
            body: JSON.stringify({ type: job.type, data: job.data[i] }),
          });
          const answer = (await res.body.json()) as { id?: string; deliveries?: number };
          publishLatencies.push(now() - started);
          if (res.statusCode !== 202 || answer.deliveries !== job.paths.length || !answer.id) {
            errors.push(`publish answered ${res.statusCode}: ${JSON.stringify(answer).slice(0, 200)}`);
            return;
          }
          for (const path of job.paths) starts.set(`${path} ${answer.id}`, started);
        } catch (err) {
          errors.push(`publish failed: ${(err as Error).message}`);
        }
      });
      return { starts, publishLatencies, errors };
    },
    close: () => pool.close(),
  };
}

/** undici posting each event's body to every path itself: the least a sender must do. */
function baselineSender(receiver: Receiver, connections: number): Sender {
  const pool = new Pool(receiver.url, { connections });
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  return {
    name: 'baseline: undici straight to the receiver',
    cpuSeconds: cpu,
    send: async (job) => {
      const starts = new Map<string, number>();
      const errors: string[] = [];
      const post = async (path: string, id: string, body: string): Promise<void> => {
        const started = now();
        starts.set(`${path} ${id}`, started);
        try {
          const res = await pool.request({ method: 'POST', path, headers: signedHeaders(id, body), body });
          await res.body.text();
          if (res.statusCode !== 200) errors.push(`${path} answered ${res.statusCode}`);
        } catch (err) {
          errors.push(`${path}: ${(err as Error).message}`);
        }
      };
      // One unit of work per delivery, as the hub's workers have: `concurrency` counts requests here.
      const units = job.data.flatMap((data) => {
        const id = `evt_${randomUUID()}`;
        const body = eventBody(id, job.type, data);
        return job.paths.map((path) => ({ path, id, body }));
      });
      const perEvent = job.paths.length;
      if (job.ratePerSecond) {
        await schedule(job.data.length, job, async (i) => {
          await Promise.all(units.slice(i * perEvent, (i + 1) * perEvent).map((u) => post(u.path, u.id, u.body)));
        });
      } else {
        await schedule(units.length, job, (i) => post(units[i].path, units[i].id, units[i].body));
      }
      return { starts, publishLatencies: [], errors };
    },
    close: () => pool.close(),
  };
}

/** One measured run: resets the receiver, sends, waits for every delivery and reads the receipts. */
async function measure(sender: Sender, receiver: Receiver, job: Job, warmupMs = 0): Promise<Run> {
  await receiver.reset();
  const expected = job.data.length * job.paths.length;
  const pg = new PostgresCpuMeter();
  const cpu0 = sender.cpuSeconds();
  pg.start();
  const t0 = now();
  const sent = await sender.send(job);
  const stats = await receiver.waitFor(expected);
  const senderCpuSeconds = sender.cpuSeconds() - cpu0;
  const postgresCpuSeconds = pg.stop();
  const receipts = await receiver.receipts();
  const from = t0 + warmupMs;
  const latencies: number[] = [];
  let last = from;
  for (const [path, id, at] of receipts) {
    const started = sent.starts.get(`${path} ${id}`);
    if (started === undefined) sent.errors.push(`unexpected delivery to ${path} (${id})`);
    else if (started >= from) {
      latencies.push(at - started);
      last = Math.max(last, at);
    }
  }
  return {
    expected,
    stats,
    counted: latencies.length,
    seconds: (last - from) / 1000,
    latencies: latencies.sort((a, b) => a - b),
    publishLatencies: sent.publishLatencies.sort((a, b) => a - b),
    senderCpuSeconds,
    postgresCpuSeconds,
    errors: sent.errors,
  };
}

/**
 * A backlog drained by a worker process: the events are published to an API that runs no workers, then the
 * hub's worker app (`dist/apps/worker`) starts on the same database and sends them. Timed from the first
 * receipt to the last, so the worker's start-up is left out (its warm-up is not); CPU is counted over that
 * window too.
 */
async function drain(ctx: BenchContext, hub: Hub, receiver: Receiver, publisher: Sender, job: Job): Promise<Run> {
  await receiver.reset();
  const sent = await publisher.send(job);
  const expected = job.data.length * job.paths.length;
  const child = spawn(process.execPath, [...ctx.hubNodeArgs, resolve(ctx.distDir, 'apps/worker/src/main.js')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...hub.env, HOOKHUB_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  try {
    await receiver.waitFor(1);
    const cpu0 = processCpuSeconds(child.pid!);
    const pg = new PostgresCpuMeter();
    pg.start();
    const stats = await receiver.waitFor(expected);
    const senderCpuSeconds = processCpuSeconds(child.pid!) - cpu0;
    const postgresCpuSeconds = pg.stop();
    const receipts = await receiver.receipts();
    const times = receipts.map(([, , at]) => at);
    for (const [path, id] of receipts) if (!sent.starts.has(`${path} ${id}`)) sent.errors.push(`unexpected delivery to ${path} (${id})`);
    if (child.exitCode !== null) sent.errors.push(`the worker exited with ${child.exitCode}: ${stderr.slice(-500)}`);
    return {
      expected,
      stats,
      counted: receipts.length,
      seconds: (Math.max(...times) - Math.min(...times)) / 1000,
      latencies: [],
      publishLatencies: [],
      senderCpuSeconds,
      postgresCpuSeconds,
      errors: sent.errors,
    };
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

async function createWebhooks(hub: Hub, paths: string[], type: string, receiver: Receiver): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < paths.length) {
        const path = paths[next++];
        await api(hub.url, 'POST', '/api/webhooks', hub.token, { url: receiver.url + path, name: `bench ${path}`, events: [type], secret: SECRET });
      }
    }),
  );
}

export async function outboundBench(ctx: BenchContext): Promise<BenchReport> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const receiver = await Receiver.start(ctx);
    stops.push(receiver.stop);
    const hub = await startHub(ctx, 'outbound', { HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32' });
    stops.push(hub.stop);
    const { key } = await api<{ key: string }>(hub.url, 'POST', '/api/api-keys', hub.token, { name: 'bench publisher', role: 'operator', scopes: ['events:publish'] });
    const loadPaths = Array.from({ length: LOAD_WEBHOOKS }, (_, i) => `/load/${i}`);
    const fanPaths = Array.from({ length: FANOUT_WEBHOOKS }, (_, i) => `/fan/${i}`);
    await createWebhooks(hub, loadPaths, 'bench.load', receiver);
    await createWebhooks(hub, ['/latency'], 'bench.latency', receiver);
    await createWebhooks(hub, fanPaths, 'bench.fanout', receiver);

    // The same load as a backlog: published to an API that runs no workers, then sent by a worker process.
    const drainHub = await startHub(ctx, 'outbound_drain', { HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32', HOOKHUB_RUN_WORKERS: 'false' });
    stops.push(drainHub.stop);
    const drainKey = await api<{ key: string }>(drainHub.url, 'POST', '/api/api-keys', drainHub.token, { name: 'bench publisher', role: 'operator', scopes: ['events:publish'] });
    const drainPaths = loadPaths.map((path) => `/drain${path}`);
    await createWebhooks(drainHub, drainPaths, 'bench.load', receiver);

    const hubSide = hubSender(hub, key);
    const drainSide = hubSender(drainHub, drainKey.key);
    stops.push(drainSide.close);
    const baseSide = baselineSender(receiver, Math.min(HUB_CONCURRENCY, LOAD_WEBHOOKS * HUB_IN_FLIGHT));
    const fanBase = baselineSender(receiver, HUB_CONCURRENCY);
    stops.push(hubSide.close, baseSide.close, fanBase.close);

    const load = (events: number): Job => ({ type: 'bench.load', data: Array.from({ length: events }, (_, i) => resourceChange(i)), paths: loadPaths, concurrency: PUBLISHERS });
    const fan: Job = { type: 'bench.fanout', data: [resourceChange(0)], paths: fanPaths, concurrency: 1 };
    const latencyEvents = Math.round(((ctx.load.warmupMs + ctx.load.durationMs) / 1000) * LATENCY_RATE);
    const latency: Job = { type: 'bench.latency', data: Array.from({ length: latencyEvents }, (_, i) => resourceChange(i)), paths: ['/latency'], concurrency: 1, ratePerSecond: LATENCY_RATE };

    // Warm-up (JIT, pools, caches), not counted.
    await measure(hubSide, receiver, load(200));
    await measure(baseSide, receiver, load(200));
    const runs = { hubLoad: [] as Run[], baseLoad: [] as Run[], hubDrain: [] as Run[], hubFan: [] as Run[], baseFan: [] as Run[], hubLatency: [] as Run[], baseLatency: [] as Run[] };
    for (let round = 0; round < ctx.rounds; round++) {
      runs.hubLoad.push(await measure(hubSide, receiver, load(LOAD_EVENTS)));
      runs.baseLoad.push(await measure(baseSide, receiver, { ...load(LOAD_EVENTS), concurrency: Math.min(HUB_CONCURRENCY, LOAD_WEBHOOKS * HUB_IN_FLIGHT) }));
    }
    for (let round = 0; round < ctx.rounds; round++) {
      runs.hubDrain.push(await drain(ctx, drainHub, receiver, drainSide, { ...load(LOAD_EVENTS), paths: drainPaths }));
    }
    for (let round = 0; round < ctx.rounds; round++) {
      runs.hubFan.push(await measure(hubSide, receiver, fan));
      runs.baseFan.push(await measure(fanBase, receiver, { ...fan, concurrency: HUB_CONCURRENCY }));
    }
    for (let round = 0; round < ctx.rounds; round++) {
      runs.hubLatency.push(await measure(hubSide, receiver, latency, ctx.load.warmupMs));
      runs.baseLatency.push(await measure(baseSide, receiver, latency, ctx.load.warmupMs));
    }
    const t = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, totals(v)])) as Record<keyof typeof runs, Totals>;
    const row = (measurement: string, name: string, x: Totals) => [
      measurement, name, String(x.deliveries), x.rate.toFixed(0), ms(x.p50), ms(x.p99), ms(x.max), ms(x.publishP50), x.senderCpuMs.toFixed(3), x.postgresCpuMs.toFixed(3),
    ];
    const loadName = `${LOAD_EVENTS.toLocaleString('en')} events x ${LOAD_WEBHOOKS} webhooks`;
    const fanName = `1 event x ${FANOUT_WEBHOOKS.toLocaleString('en')} webhooks`;
    const latencyName = `${LATENCY_RATE} events/s x 1 webhook`;
    const rateRatio = t.hubLoad.rate / t.baseLoad.rate;
    const drainRatio = t.hubDrain.rate / t.baseLoad.rate;
    const problems = Object.values(t).reduce((n, x) => n + x.problems, 0);
    const errors = Object.values(t).flatMap((x) => x.errors);
    const checks: BenchCheck[] = [
      { name: `hub deliveries/s, ${loadName}`, value: t.hubLoad.rate, target: '>= 1500 (floor 750)', pass: t.hubLoad.rate >= 750, met: t.hubLoad.rate >= 1500 },
      // The floor catches a regression; the target is not met on a 2-core machine (see the README).
      { name: 'hub deliveries/s / baseline deliveries/s', value: rateRatio, target: '>= 0.25 (floor 0.05)', pass: rateRatio >= 0.05, met: rateRatio >= 0.25 },
      { name: 'hub backlog drain deliveries/s / baseline deliveries/s', value: drainRatio, target: '>= 0.25 (floor 0.05)', pass: drainRatio >= 0.05, met: drainRatio >= 0.25 },
      { name: `publish-to-receipt p50 ms, ${latencyName}`, value: t.hubLatency.p50, target: '< 25 (floor 50)', pass: t.hubLatency.p50 < 50, met: t.hubLatency.p50 < 25 },
      { name: `publish-to-receipt p99 ms, ${latencyName}`, value: t.hubLatency.p99, target: '< 150 (floor 300)', pass: t.hubLatency.p99 < 300, met: t.hubLatency.p99 < 150 },
      { name: 'deliveries missing, repeated or badly signed', value: problems, target: '0', pass: problems === 0, met: problems === 0 },
      { name: 'publish or send errors', value: errors.length, target: '0', pass: errors.length === 0, met: errors.length === 0 },
    ];
    return {
      title: `Outbound: events to a local receiver, ${ctx.rounds} alternating rounds each (latency: ${ctx.load.durationMs / 1000} s per round after ${ctx.load.warmupMs / 1000} s warm-up)`,
      rows: [],
      tables: [
        {
          head: ['measurement', 'system', 'deliveries', 'deliveries/s', 'p50 ms', 'p99 ms', 'max ms', 'publish p50 ms', 'sender CPU ms/delivery', 'Postgres CPU ms/delivery'],
          rows: [
            row(loadName, hubSide.name, t.hubLoad),
            row(loadName, baseSide.name, t.baseLoad),
            row(`${loadName}, a backlog`, 'hookhub: a worker process drains it', t.hubDrain),
            row(fanName, hubSide.name, t.hubFan),
            row(fanName, baseSide.name, t.baseFan),
            row(latencyName, hubSide.name, t.hubLatency),
            row(latencyName, baseSide.name, t.baseLatency),
          ],
        },
      ],
      checks,
      notes: errors.slice(0, 5),
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}
