/**
 * Console benchmark: how long the operator console's overview takes on a store with history, against the same
 * page on an empty store in the same run. The hub (built, production mode, on the machine's Postgres) is
 * measured empty, then after BENCH_CONSOLE_ROWS (100,000) receipts and as many delivery attempts are written
 * straight into its tables, spread over the last 24 hours (the overview's default window):
 *
 * - `GET /api/overview`, the one call the page makes for its charts (median of 15);
 * - the page in headless Chromium (Debian's /usr/bin/chromium, BENCH_CHROMIUM elsewhere): from navigation to
 *   the overview's numbers on screen, signed in already (median of 7 loads). Target: < 1 s with the history.
 *
 * BENCH_CONSOLE_SCREENSHOT=<file.png> saves the page with the history (its last load) for the README.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { chromium } from 'playwright-core';
import { api, startHub, type Hub } from '../lib/hub';
import type { BenchCheck, BenchContext, BenchReport } from '../lib/report';

const ROWS = Number(process.env.BENCH_CONSOLE_ROWS ?? 100_000);
const CHROMIUM = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium';
const API_CALLS = 15;
const PAGE_LOADS = 7;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeApi(hub: Hub): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < API_CALLS; i++) {
    const started = performance.now();
    await api(hub.url, 'GET', '/api/overview?hours=24', hub.token);
    times.push(performance.now() - started);
  }
  return median(times);
}

/** Loads the overview in a fresh tab with the token already in the session, until its numbers are shown. */
async function timePage(hub: Hub, screenshot?: string): Promise<number | null> {
  if (!existsSync(CHROMIUM)) return null;
  const userDataDir = mkdtempSync(join(tmpdir(), 'hookhub-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  });
  try {
    await context.addInitScript((token: string) => sessionStorage.setItem('hookhub.token', token), hub.token);
    const times: number[] = [];
    // The first load warms the browser's and the hub's caches; it is not counted.
    for (let i = 0; i <= PAGE_LOADS; i++) {
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(`${hub.url}/console/#/overview`);
      await page.getByTestId('overview-stats').waitFor({ timeout: 30_000 });
      if (i > 0) times.push(performance.now() - started);
      if (i === PAGE_LOADS && screenshot) {
        await page.locator('figure svg rect').first().waitFor();
        await page.screenshot({ path: screenshot, fullPage: true });
      }
      await page.close();
    }
    return median(times);
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

/** Writes `ROWS` receipts and `ROWS` attempts (of one real delivery) over the last 24 hours. */
async function seed(hub: Hub): Promise<number> {
  const webhook = await api<{ id: string }>(hub.url, 'POST', '/api/webhooks', hub.token, {
    url: 'http://127.0.0.1:9/bench-console',
    events: ['*'],
  });
  const event = await api<{ id: string }>(hub.url, 'POST', '/api/events', hub.token, {
    type: 'webhook.test',
    data: { bench: true },
  });
  const started = Date.now();
  const c = new Client({ connectionString: hub.databaseUrl });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO receipts (id, source_id, slug, delivery_id, method, ip, event, verdict, reason, status_code, headers,
         body, body_bytes, body_truncated, matched_rules, task_ids, duplicate_of, duration_ms, created_at)
       SELECT gen_random_uuid(), NULL, 'bench', 'd-' || i, 'POST', '127.0.0.1', 'push',
         (ARRAY['accepted','accepted','accepted','unmatched','duplicate','rejected'])[1 + i % 6],
         CASE WHEN i % 6 = 5 THEN 'invalid_signature: bench' END, CASE WHEN i % 6 = 5 THEN 401 ELSE 202 END,
         '{}', '{"ref":"refs/heads/main"}', 25, false, '[]', '{}', NULL, 1.5,
         now() - (i::float8 / $1) * interval '24 hours'
       FROM generate_series(1, $1) AS i`,
      [ROWS],
    );
    const d = await c.query<{ id: string }>(`SELECT id FROM deliveries WHERE event_id = $1`, [event.id]);
    await c.query(
      `INSERT INTO delivery_attempts (delivery_id, event_id, webhook_id, event_type, attempt, trigger, url, status_code,
         success, duration_ms, created_at)
       SELECT $2, $3, $4, 'webhook.test', 1, 'event', 'http://127.0.0.1:9/bench-console',
         CASE WHEN i % 20 = 0 THEN 503 ELSE 200 END, i % 20 <> 0, 5 + i % 300,
         now() - (i::float8 / $1) * interval '24 hours'
       FROM generate_series(1, $1) AS i`,
      [ROWS, d.rows[0].id, event.id, webhook.id],
    );
    await c.query('ANALYZE receipts; ANALYZE delivery_attempts');
  } finally {
    await c.end();
  }
  return Date.now() - started;
}

export async function consoleBench(ctx: BenchContext): Promise<BenchReport> {
  const hub = await startHub(ctx, 'console', { HOOKHUB_RUN_WORKERS: 'false', HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32' });
  try {
    const emptyApi = await timeApi(hub);
    const emptyPage = await timePage(hub);
    const seededMs = await seed(hub);
    const fullApi = await timeApi(hub);
    const fullPage = await timePage(hub, process.env.BENCH_CONSOLE_SCREENSHOT);
    const rows = ROWS.toLocaleString('en');
    const checks: BenchCheck[] = [];
    const notes: string[] = [];
    if (fullPage === null || emptyPage === null) {
      notes.push(`no Chromium at ${CHROMIUM}: the page was not measured (apt-get install chromium)`);
    } else {
      checks.push(
        {
          name: `overview page ms, ${rows} receipts + ${rows} attempts`,
          value: fullPage,
          target: '< 1000 (floor 3000)',
          pass: fullPage < 3000,
          met: fullPage < 1000,
        },
        {
          name: 'overview page with that history / on an empty store',
          value: fullPage / emptyPage,
          target: '<= 2 (floor 6)',
          pass: fullPage / emptyPage <= 6,
          met: fullPage / emptyPage <= 2,
        },
      );
    }
    checks.push({
      name: `GET /api/overview ms, ${rows} receipts + ${rows} attempts`,
      value: fullApi,
      target: '< 500 (floor 2000)',
      pass: fullApi < 2000,
      met: fullApi < 500,
    });
    const fmt = (x: number | null) => (x === null ? '-' : x.toFixed(0));
    return {
      title: 'console: the overview page, empty store against one with history',
      rows: [],
      tables: [
        {
          head: ['store', 'GET /api/overview ms (median)', 'overview page in Chromium ms (median)'],
          rows: [
            ['empty', fmt(emptyApi), fmt(emptyPage)],
            [`${rows} receipts + ${rows} delivery attempts in 24 h`, fmt(fullApi), fmt(fullPage)],
          ],
        },
        {
          head: ['detail', 'value'],
          rows: [['history written straight into the tables in', `${(seededMs / 1000).toFixed(1)} s`]],
        },
      ],
      checks,
      notes,
    };
  } finally {
    await hub.stop();
  }
}
