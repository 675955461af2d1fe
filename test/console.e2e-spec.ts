import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { type TestApp, bootApp } from './helpers/app';
import { tempDir, usingRealPostgres } from './helpers/database';
import { PROGRAMS_DIR, githubSignature } from './helpers/inbound';
import { Receiver, eventually } from './helpers/receiver';

/**
 * The operator console in real headless Chromium (Debian's, driven by playwright-core) against the real hub on
 * Postgres: the console is built from the sources into a cache directory and served by the hub. Each flow
 * saves a screenshot under test-results/console/.
 */
const CHROMIUM = process.env.HOOKHUB_TEST_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = process.cwd();
const SHOTS = join(ROOT, 'test-results/console');
const CONSOLE_DIR = join(ROOT, 'node_modules/.cache/hookhub-console-test');
const runnable = usingRealPostgres() && existsSync(CHROMIUM);
const describeConsole = runnable ? describe : describe.skip;
if (!runnable) {
  process.stderr.write(
    `console e2e skipped: ${usingRealPostgres() ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : 'it runs on a Postgres server (DATABASE_URL)'}\n`,
  );
}

describeConsole('operator console in Chromium (e2e, real Postgres)', () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let receiver: Receiver;
  let userDataDir: string;

  beforeAll(async () => {
    // The console as `npm run build` bundles it, from the committed API types (checked against the hub below).
    execFileSync(process.execPath, ['scripts/build-console.mjs', '--no-openapi'], {
      cwd: ROOT,
      stdio: 'pipe',
      env: { ...process.env, HOOKHUB_CONSOLE_OUT_DIR: CONSOLE_DIR },
    });
    t = await bootApp({
      HOOKHUB_CONSOLE_DIR: CONSOLE_DIR,
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
      HOOKHUB_QUEUE_POLL_MS: '200',
    });
    receiver = await Receiver.start();
    mkdirSync(SHOTS, { recursive: true });
    userDataDir = tempDir('hookhub-chromium-');
    context = await chromium.launchPersistentContext(userDataDir, {
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
    browser = context.browser()!;
    // The console must not reach any host but the hub.
    context.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== t.baseUrl && url.protocol !== 'data:') foreign.push(request.url());
    });
  }, 240_000);

  const foreign: string[] = [];

  afterAll(async () => {
    await context?.close();
    void browser;
    await receiver?.close();
    await t?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(foreign).toEqual([]);
  });

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(`${t.baseUrl}/`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('who').waitFor();
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  it('serves the console with hashed, long-cached assets and redirects / to it', async () => {
    const root = await fetch(`${t.baseUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console/');
    const bare = await fetch(`${t.baseUrl}/console`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([302, '/console/']);
    const index = await fetch(`${t.baseUrl}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toMatch(/\/console\/assets\/index-[\w-]{6,}\.js$/);
    const asset = await fetch(`${t.baseUrl}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    // All the JavaScript the first page loads: at most 300 KB gzipped.
    expect(gzipSync(Buffer.from(await asset.arrayBuffer())).length).toBeLessThanOrEqual(300 * 1024);
    expect(html.match(/<script/g)).toHaveLength(1);
    // Unknown files are 404s, not the app.
    expect((await fetch(`${t.baseUrl}/console/assets/nope.js`)).status).toBe(404);
  });

  it('the committed API types match the hub they talk to (regenerate with npm run build)', async () => {
    const document = (await (await fetch(`${t.baseUrl}/docs-json`)).json()) as Record<string, unknown>;
    const { consoleApiFiles } = (await import(join(ROOT, 'scripts/console-api.mjs'))) as {
      consoleApiFiles: (d: unknown) => Promise<Record<string, string>>;
    };
    const files = await consoleApiFiles(document);
    for (const [name, contents] of Object.entries(files)) {
      expect(readFileSync(join(ROOT, 'apps/console/src/api', name), 'utf8')).toBe(contents);
    }
  });

  it('signs in, shows the overview, refuses a wrong password and signs out', async () => {
    const page = await context.newPage();
    await page.goto(`${t.baseUrl}/`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').first().textContent()).resolves.toMatch(/invalid|credentials|password/i);

    // With the keyboard only: the password field, then Enter submits the form.
    await page.getByLabel('Password').fill('');
    await page.getByLabel('Username').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.type('admin-password-1');
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('who').textContent()).resolves.toContain('admin');
    await page.getByTestId('overview-stats').waitFor();
    expect(await page.getByText('Live workers').count()).toBe(1);
    await shot(page, 'overview');

    // The sections are links reached with Tab and opened with Enter.
    await page.getByRole('link', { name: 'Overview' }).focus();
    for (let i = 0; i < 20; i++) {
      if ((await page.locator(':focus').textContent()) === 'Webhooks') break;
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();

    // A reload keeps the session (sessionStorage); signing out ends it.
    await page.reload();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You signed out.').waitFor();
    await page.close();
  });

  it('creates a program, a source and a rule through the forms, explains a sample, and shows a signed trigger live', async () => {
    const page = await context.newPage();
    await signIn(page, 'admin', 'admin-password-1');

    await page.goto(`${t.baseUrl}/console/#/programs`);
    await page.getByRole('button', { name: 'New program' }).click();
    const programForm = page.getByRole('form', { name: 'New program' });
    await programForm.getByLabel('Name').fill('progress');
    await programForm.getByLabel('Command').fill(join(PROGRAMS_DIR, 'progress.sh'));
    await programForm.getByLabel('Arguments').fill('["{{body.ref}}", "3"]');
    await programForm.getByRole('button', { name: 'Create' }).click();
    await page.getByTestId('programs').getByRole('link', { name: 'progress' }).waitFor();

    await page.goto(`${t.baseUrl}/console/#/sources`);
    await page.getByRole('button', { name: 'New source' }).click();
    const sourceForm = page.getByRole('form', { name: 'New source' });
    await sourceForm.getByLabel('Slug').fill('console-repo');
    await sourceForm.getByLabel('Verification scheme').selectOption('github');
    await sourceForm.getByLabel('Secret').fill('console-secret-1');
    await sourceForm.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Source: console-repo' }).waitFor();

    await page.getByRole('button', { name: 'Add a rule' }).click();
    const ruleForm = page.getByRole('form', { name: 'New rule' });
    await ruleForm.getByLabel('Name').fill('main only');
    await ruleForm.getByLabel('Program').selectOption({ label: 'progress' });
    await ruleForm.getByLabel('Condition').fill('{"path": "body.ref", "eq": "refs/heads/main"}');
    await ruleForm.getByLabel('Arguments').fill('[]');
    await ruleForm.getByRole('button', { name: 'Save rule' }).click();
    await page.getByTestId('rules').getByText('main only').waitFor();

    // The explain panel: a push to dev matches nothing, and says why; one to main would run the argv.
    const explain = page.getByRole('form', { name: 'Explain' });
    await explain.getByLabel('Sample body (JSON)').fill('{"ref": "refs/heads/dev"}');
    await explain.getByRole('button', { name: 'Explain' }).click();
    const verdict = page.getByTestId('explain').locator('tr[data-rule="main only"]');
    await expect(verdict.textContent()).resolves.toMatch(/no match.*refs\/heads\/dev/);
    await explain.getByLabel('Sample body (JSON)').fill('{"ref": "refs/heads/main"}');
    await explain.getByRole('button', { name: 'Explain' }).click();
    await verdict.locator('.badge', { hasText: 'would run' }).waitFor();
    await page.getByTestId('explain').getByText('A rule matches.').waitFor();
    // The argv the run would get: the program's argument templates filled from the sample.
    await expect(verdict.textContent()).resolves.toMatch(/would run\s*refs\/heads\/main 3$/);
    await shot(page, 'source-rules-explain');

    // Settings: saved through the form, read back from the hub.
    await page.getByRole('tab', { name: 'Settings' }).click();
    const settings = page.getByRole('form', { name: 'Source settings' });
    await settings.getByLabel('Rate limit (requests per minute, 0: none)').fill('30');
    await settings.getByLabel('Rules that run').selectOption('all');
    await settings.getByRole('button', { name: 'Save' }).click();
    await settings.getByText('Saved.').waitFor();
    const admin = await t.login();
    const sources = await t.request<{ items: Array<{ slug: string; rate_limit: number; match_mode: string }> }>({
      url: '/api/sources',
      token: admin,
    });
    expect(sources.json.items.find((x) => x.slug === 'console-repo')).toMatchObject({
      rate_limit: 30,
      match_mode: 'all',
    });

    // A signed trigger: its receipt is listed, and its run's output appears while the program runs.
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const sent = await fetch(`${t.baseUrl}/hooks/console-repo`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': 'console-delivery-1',
        'x-hub-signature-256': githubSignature('console-secret-1', body),
      },
      body,
    });
    expect(sent.status).toBe(202);
    await page.goto(`${t.baseUrl}/console/#/receipts`);
    const row = page.getByTestId('receipts').locator('tbody tr').first();
    await expect(row.textContent()).resolves.toMatch(/console-repo.*push.*accepted.*202.*main only/);
    // Filtered by the status answered: nothing was refused.
    await page.goto(`${t.baseUrl}/console/#/receipts?status_code=401`);
    await page.getByText('No receipt matches.').waitFor();
    await page.goto(`${t.baseUrl}/console/#/receipts?status_code=202`);
    await row.getByRole('link').click();
    await page.getByRole('link', { name: /^[0-9a-f]{8}/ }).click();
    await page.getByTestId('stdout').getByText('step 1 of 2: refs/heads/main').waitFor({ timeout: 15_000 });
    // Seen before the run ended: the output is live, not read after the fact.
    expect(await page.getByTestId('stdout').textContent()).not.toContain('step 2');
    await shot(page, 'task-run-live');
    await page.getByTestId('stdout').getByText('step 2 of 2: done').waitFor({ timeout: 15_000 });
    await page.getByTestId('run-status').getByText('succeeded').waitFor({ timeout: 15_000 });
    await page.close();
  });

  it('creates a webhook, sends a test, shows the attempt and the chart, and rotates its secret once', async () => {
    const page = await context.newPage();
    await signIn(page, 'admin', 'admin-password-1');
    await page.goto(`${t.baseUrl}/console/#/webhooks`);
    await page.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('Name').fill('console receiver');

    // An error from the API is shown next to its field.
    await form.getByLabel('URL').fill('not a url');
    await form.getByRole('button', { name: 'Create' }).click();
    const urlError = form.locator('[data-field="url"] .field-error');
    await urlError.waitFor();
    await expect(urlError.textContent()).resolves.toMatch(/url/i);
    await shot(page, 'webhook-field-error');

    await form.getByLabel('URL').fill(`${receiver.url}/console`);
    await form.getByRole('button', { name: 'Create' }).click();
    const first = (await page.getByTestId('shown-once').textContent())!;
    expect(first).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('heading', { name: 'Webhook: console receiver' }).waitFor();

    await page.getByRole('button', { name: 'Send a test event' }).click();
    await expect(page.getByTestId('test-result').textContent()).resolves.toMatch(/succeeded HTTP 200/);
    expect(receiver.received.some((r) => r.path === '/console')).toBe(true);
    const attempt = page.getByTestId('attempts').locator('tbody tr').first();
    await expect(attempt.textContent()).resolves.toMatch(/succeeded\s*200/);
    await page.locator('figure[aria-label="Attempts per hour, last 24 h"] svg rect').first().waitFor();
    await expect(page.getByTestId('webhook-stats').textContent()).resolves.toMatch(/Attempts1 \(1 succeeded\)/);
    await shot(page, 'webhook-test-logs-chart');

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const second = (await page.getByTestId('shown-once').textContent())!;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('shown-once').count()).toBe(0);
    await expect(page.locator('dl.facts').first().textContent()).resolves.toContain('2 secrets');

    // Settings: a custom header (its value write-only) and a rate cap, then a test carries the header.
    await page.getByRole('tab', { name: 'Settings' }).click();
    const settings = page.getByRole('form', { name: 'Webhook settings' });
    await settings.getByLabel('Requests per second at most').fill('5');
    await settings.getByLabel('Header name').fill('X-Console-Token');
    await settings.getByLabel('Header value').fill('console-header-secret');
    await settings.getByRole('button', { name: 'Save' }).click();
    await settings.getByText('Saved.').waitFor();
    await settings.getByRole('button', { name: 'Remove X-Console-Token' }).waitFor();
    const before = receiver.received.length;
    await page.getByRole('button', { name: 'Send a test event' }).click();
    const sent = await eventually(async () => receiver.received[before], 15_000, 'the second test delivery');
    expect(sent.headers['x-console-token']).toBe('console-header-secret');
    await page.reload();
    await page.getByRole('heading', { name: 'Webhook: console receiver' }).waitFor();
    expect(await page.content()).not.toContain('console-header-secret');
    await expect(page.locator('dl.facts').first().textContent()).resolves.toMatch(/5 per second/);
    await page.close();
  });

  it('a viewer sees no write controls, and the hub refuses what the role may not do', async () => {
    const viewer = await t.userWithRole('viewer');
    const page = await context.newPage();
    await signIn(page, viewer.username, 'user-password-1');
    await expect(page.getByTestId('who').textContent()).resolves.toContain('viewer');
    // The overview after the flows above: the triggers, the run and the test attempt are in its charts.
    await page.getByTestId('overview-stats').waitFor();
    await page.locator('figure[aria-label="Triggers received per hour, by verdict"] svg rect').first().waitFor();
    await page.locator('figure[aria-label="Delivery attempts per hour"] svg rect').first().waitFor();
    await shot(page, 'overview-with-history');
    expect(await page.getByRole('link', { name: 'Users' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Audit log' }).count()).toBe(0);

    await page.goto(`${t.baseUrl}/console/#/webhooks`);
    await page.getByTestId('webhooks').getByText('console receiver').click();
    await page.getByRole('heading', { name: 'Webhook: console receiver' }).waitFor();
    for (const name of ['Send a test event', 'Rotate secret', 'Delete', 'Disable', 'New webhook']) {
      expect(await page.getByRole('button', { name }).count()).toBe(0);
    }
    await page.goto(`${t.baseUrl}/console/#/sources`);
    await page.getByTestId('sources').getByRole('link', { name: 'console-repo' }).waitFor();
    expect(await page.getByRole('button', { name: 'New source' }).count()).toBe(0);
    await page.goto(`${t.baseUrl}/console/#/programs`);
    await page.getByTestId('programs').waitFor();
    expect(await page.getByRole('button', { name: /New program|Run now|Edit/ }).count()).toBe(0);
    await shot(page, 'viewer-programs');

    // The same request the console would make for an operator, sent with the viewer's session: refused.
    const refused = await page.evaluate(async () => {
      const res = await fetch('/api/webhooks', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${sessionStorage.getItem('hookhub.token')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ url: 'https://example.com/x', events: ['*'] }),
      });
      return { status: res.status, body: (await res.json()) as { code: string } };
    });
    expect(refused).toEqual({ status: 403, body: expect.objectContaining({ code: 'forbidden' }) });

    // An admin page opened by hand says it is for admins.
    await page.goto(`${t.baseUrl}/console/#/users`);
    await page.getByText('This page is for admins.').waitFor();
    await page.close();
  });

  it('ends the session when the hub stops taking the token', async () => {
    const operator = await t.userWithRole('operator');
    const page = await context.newPage();
    await signIn(page, operator.username, 'user-password-1');
    // The user is disabled by an admin: the next call answers 401 and the console asks to sign in again.
    const admin = await t.login();
    const disabled = await t.request({
      method: 'PATCH',
      url: `/api/users/${operator.id}`,
      token: admin,
      body: { disabled: true },
    });
    expect(disabled.statusCode).toBe(200);
    await page.goto(`${t.baseUrl}/console/#/receipts`);
    await page.getByText('Your session ended: sign in again.').waitFor();
    expect(await page.getByTestId('who').count()).toBe(0);
    await page.close();
  });
});
