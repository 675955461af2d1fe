import { createHmac } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type TestApp, bootApp } from './helpers/app';
import { createTestDatabase, type TestDatabase, tempDir } from './helpers/database';
import { PROGRAMS_DIR, program, waitForTask } from './helpers/inbound';

const SECRET = 'declared-secret';

const FILE = `# Scenario 3 and 5, declared.
programs:
  - name: deploy
    command: ${program('deploy.sh')}
    args: ["{{body.ref}}", "{{body.after}}"]
    concurrency_key: "{{body.ref}}"
    env_allow: [GIT_REF]
  - name: git-sync
    command: ${program('sync.sh')}
    args: ["{{body.task_id}}"]
sources:
  - slug: github
    scheme: github
    secrets: ["\${HOOKHUB_TEST_GITHUB_SECRET}"]
    rules:
      - name: push to main deploys
        condition: { and: [{ path: event, eq: push }, { path: body.ref, eq: refs/heads/main }] }
        program: deploy
        env: { GIT_REF: "{{body.ref}}" }
      - name: tags deploy too
        condition: { path: body.ref, prefix: refs/tags/ }
        program: deploy
  - slug: task-sync
    scheme: github
    secrets: ["\${HOOKHUB_TEST_GITHUB_SECRET}"]
    dispatch: by_id
    by_id_programs: [git-sync]
`;

describe('declarative configuration (HOOKHUB_CONFIG)', () => {
  let dir: string;
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  beforeAll(() => {
    dir = tempDir('hookhub-config-file-');
    process.env.HOOKHUB_TEST_GITHUB_SECRET = SECRET;
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    delete process.env.HOOKHUB_TEST_GITHUB_SECRET;
  });

  const base = { HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR, HOOKHUB_QUEUE_POLL_MS: '200' };
  const signedPush = (t: TestApp, slug: string, body: object) => {
    const text = JSON.stringify(body);
    return t.request<{ task_ids: string[]; matched: boolean }>({
      method: 'POST',
      url: `/hooks/${slug}`,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': 'sha256=' + createHmac('sha256', SECRET).update(text).digest('hex'),
      },
      payload: text,
    });
  };

  it('applies the file at boot, and what it declares works end to end; applying it again changes nothing', async () => {
    const file = write('hookhub.yaml', FILE);
    const t = await bootApp({ ...base, HOOKHUB_CONFIG: file });
    try {
      const admin = await t.login();
      const programs = await t.request<{ items: Array<{ name: string; number: number }> }>({
        url: '/api/programs',
        token: admin,
      });
      expect(programs.json.items.map((p) => p.name).sort()).toEqual(['deploy', 'git-sync']);
      const sources = await t.request<{ items: Array<{ id: string; slug: string; secret_count: number }> }>({
        url: '/api/sources',
        token: admin,
      });
      expect(sources.json.items.map((s) => [s.slug, s.secret_count]).sort()).toEqual([
        ['github', 1],
        ['task-sync', 1],
      ]);
      const github = sources.json.items.find((s) => s.slug === 'github')!;
      const rules = await t.request<{ items: Array<{ name: string; position: number }> }>({
        url: `/api/sources/${github.id}/rules`,
        token: admin,
      });
      expect(rules.json.items.map((r) => [r.position, r.name])).toEqual([
        [0, 'push to main deploys'],
        [1, 'tags deploy too'],
      ]);

      const push = await signedPush(t, 'github', { ref: 'refs/heads/main', after: 'abc1234' });
      expect(push.statusCode).toBe(202);
      const run = await waitForTask(t, admin, push.json.task_ids[0]);
      expect(run.stdout).toContain('deploying ref=refs/heads/main commit=abc1234 GIT_REF=refs/heads/main');
      const gitSync = programs.json.items.find((p) => p.name === 'git-sync')!;
      const sync = await signedPush(t, 'task-sync', { task_id: gitSync.number });
      expect(sync.statusCode).toBe(202);
      expect((await waitForTask(t, admin, sync.json.task_ids[0])).stdout.trim()).toBe(`synced task ${gitSync.number}`);
    } finally {
      await t.app.close();
    }
    // The same file again, then a changed one: matched by name, so nothing is duplicated.
    const again = await bootApp({ ...base, HOOKHUB_CONFIG: file }, { db: t.db });
    await again.app.close();
    const changed = write(
      'hookhub-2.yaml',
      FILE.replace('    concurrency_key: "{{body.ref}}"\n', '    timeout_seconds: 60\n').replace(
        / {6}- name: tags deploy too\n.*\n.*\n/,
        '',
      ),
    );
    const third = await bootApp({ ...base, HOOKHUB_CONFIG: changed }, { db: t.db });
    try {
      const admin = await third.login();
      const programs = await third.request<{
        items: Array<{ name: string; timeout_seconds: number; concurrency_key: string | null }>;
      }>({ url: '/api/programs', token: admin });
      expect(programs.json.items).toHaveLength(2);
      // Fields the file no longer sets keep their values; the ones it sets change.
      expect(programs.json.items.find((p) => p.name === 'deploy')).toMatchObject({
        timeout_seconds: 60,
        concurrency_key: '{{body.ref}}',
      });
      const sources = await third.request<{ items: Array<{ id: string; slug: string }> }>({
        url: '/api/sources',
        token: admin,
      });
      expect(sources.json.items).toHaveLength(2);
      const github = sources.json.items.find((s) => s.slug === 'github')!;
      const rules = await third.request<{ items: Array<{ name: string }> }>({
        url: `/api/sources/${github.id}/rules`,
        token: admin,
      });
      expect(rules.json.items.map((r) => r.name)).toEqual(['push to main deploys']);
    } finally {
      await third.close();
    }
  });

  it.each([
    ['a YAML syntax error', 'programs:\n  - name: x\n    args: [unclosed\n', /bad\.yaml:\d+: /],
    [
      'an unknown field (a typo)',
      FILE.replace('    env_allow: [GIT_REF]', '    env_alow: [GIT_REF]'),
      /bad\.yaml:7: programs\[0\]\.env_alow: property env_alow should not exist/,
    ],
    [
      'a rule naming no program',
      FILE.replace('        program: deploy\n        env', '        program: deploi\n        env'),
      /bad\.yaml:18: sources\[0\]\.rules\[0\]\.program: no program named deploi/,
    ],
    [
      'a missing secret variable',
      FILE.replaceAll('HOOKHUB_TEST_GITHUB_SECRET', 'HOOKHUB_TEST_UNSET_SECRET'),
      /bad\.yaml:14: sources\[0\]\.secrets\[0\]: environment variable HOOKHUB_TEST_UNSET_SECRET is not set\n.*bad\.yaml:25: sources\[1\]\.secrets\[0\]: environment variable HOOKHUB_TEST_UNSET_SECRET is not set"?$/,
    ],
    [
      'a command outside the program dirs',
      FILE.replace(program('sync.sh'), '/bin/sh'),
      /bad\.yaml:9: programs\[1\]\.command: .*not under HOOKHUB_PROGRAM_DIRS/,
    ],
    [
      'a bad condition',
      FILE.replace('{ path: body.ref, prefix: refs/tags/ }', '{ path: body.__proto__, eq: x }'),
      /bad\.yaml:21: sources\[0\]\.rules\[1\]\.condition: /,
    ],
    ['an unknown section', 'webhooks: []\n', /bad\.yaml:1: webhooks: unknown section/],
  ])('refuses to boot on %s, naming the line and the reason, and writes nothing', async (_what, text, expected) => {
    const file = write('bad.yaml', text);
    let db: TestDatabase | undefined = await createTestDatabase();
    try {
      await expect(bootApp({ ...base, HOOKHUB_CONFIG: file }, { db })).rejects.toThrow(expected);
      const t = await bootApp(base, { db });
      try {
        const admin = await t.login();
        expect((await t.request<{ total: number }>({ url: '/api/programs', token: admin })).json.total).toBe(0);
        expect((await t.request<{ total: number }>({ url: '/api/sources', token: admin })).json.total).toBe(0);
      } finally {
        await t.close();
        db = undefined;
      }
    } finally {
      await db?.drop();
    }
  });

  it('exports a running hub (admins only, no secret values) as a file that rebuilds it elsewhere', async () => {
    const source = await bootApp({ ...base, HOOKHUB_CONFIG: write('hookhub.yaml', FILE) });
    let exported: string;
    try {
      const admin = await source.login();
      const operator = await source.userWithRole('operator');
      expect((await source.request({ url: '/api/config/export', token: operator.token })).statusCode).toBe(403);
      const res = await source.request({ url: '/api/config/export', token: admin });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('application/yaml');
      exported = res.body;
      expect(exported).not.toContain(SECRET);
      expect(parse(exported).sources[0].secrets).toEqual(['${HOOKHUB_SOURCE_GITHUB_SECRET_1}']);
    } finally {
      await source.close();
    }
    process.env.HOOKHUB_SOURCE_GITHUB_SECRET_1 = SECRET;
    process.env.HOOKHUB_SOURCE_TASK_SYNC_SECRET_1 = SECRET;
    const copy = await bootApp({ ...base, HOOKHUB_CONFIG: write('exported.yaml', exported) });
    try {
      const admin = await copy.login();
      const again = await copy.request({ url: '/api/config/export', token: admin });
      const strip = (text: string) => text.replace(/^# .*\n/gm, '');
      expect(strip(again.body)).toBe(strip(exported));
      const push = await signedPush(copy, 'github', { ref: 'refs/tags/v1', after: 'def5678' });
      expect(push.statusCode).toBe(202);
      expect(push.json.matched).toBe(true);
    } finally {
      await copy.close();
      delete process.env.HOOKHUB_SOURCE_GITHUB_SECRET_1;
      delete process.env.HOOKHUB_SOURCE_TASK_SYNC_SECRET_1;
    }
  });
});
