import { readFileSync, readdirSync } from 'node:fs';
import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, program, waitForTask } from './helpers/inbound';

/** Live (not zombie) processes in process group `pgid`, from /proc. */
function liveInGroup(pgid: number): number[] {
  const live: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') live.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return live;
}

/** Programs and task runs over the admin API, with real child processes. */
describe('programs and task runs', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_QUEUE_POLL_MS: '200',
      HOOKHUB_TASK_KILL_GRACE_MS: '300',
    });
    admin = await t.login();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses programs outside the program dirs, missing or not executable, with per-field details', async () => {
    const outside = await t.request<{ code: string; details: Array<{ field: string; errors: string[] }> }>({
      method: 'POST',
      url: '/api/programs',
      token: admin,
      body: { name: 'sh', command: '/bin/sh' },
    });
    expect([outside.statusCode, outside.json.code]).toEqual([400, 'validation_failed']);
    expect(outside.json.details[0]).toMatchObject({ field: 'command' });
    expect(outside.json.details[0].errors[0]).toContain('HOOKHUB_PROGRAM_DIRS');
    const relative = await t.request<{ code: string; details: Array<{ field: string }> }>({
      method: 'POST',
      url: '/api/programs',
      token: admin,
      body: { name: 'rel', command: 'backup.sh' },
    });
    expect([relative.statusCode, relative.json.code, relative.json.details[0].field]).toEqual([
      400,
      'validation_failed',
      'command',
    ]);
    const missing = await t.request<{ code: string; details: Array<{ field: string }> }>({
      method: 'POST',
      url: '/api/programs',
      token: admin,
      body: { name: 'gone', command: program('nope.sh') },
    });
    expect([missing.statusCode, missing.json.code, missing.json.details[0].field]).toEqual([
      400,
      'validation_failed',
      'command',
    ]);
    const badTemplate = await t.request<{ code: string; details: Array<{ field: string }> }>({
      method: 'POST',
      url: '/api/programs',
      token: admin,
      body: { name: 'bad', command: program('sync.sh'), args: ['{{__proto__.x}}'] },
    });
    expect([badTemplate.statusCode, badTemplate.json.code]).toEqual([400, 'validation_failed']);
    expect(badTemplate.json.details[0].field).toBe('args.0');
  });

  it('lets only admins change programs; operators run them; viewers read', async () => {
    const operator = await t.userWithRole('operator');
    const viewer = await t.userWithRole('viewer');
    const denied = await t.request<{ code: string }>({
      method: 'POST',
      url: '/api/programs',
      token: operator.token,
      body: { name: 'x', command: program('sync.sh') },
    });
    expect([denied.statusCode, denied.json.code]).toEqual([403, 'forbidden']);
    const p = await create(t, admin, '/api/programs', {
      name: 'hello',
      command: program('sync.sh'),
      args: ['{{body.name}}'],
    });
    expect((await t.request({ url: `/api/programs/${p.id}`, token: viewer.token })).statusCode).toBe(200);
    const viewerRun = await t.request<{ code: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: viewer.token,
      body: {},
    });
    expect([viewerRun.statusCode, viewerRun.json.code]).toEqual([403, 'forbidden']);
    const run = await t.request<{ id: string; trigger: string; triggered_by: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: operator.token,
      body: { payload: { name: 'world' } },
    });
    expect(run.statusCode).toBe(201);
    expect(run.json).toMatchObject({ trigger: 'manual', triggered_by: operator.username });
    const done = await waitForTask(t, admin, run.json.id);
    expect(done.stdout.trim()).toBe('synced task world');
    const refused = await t.request<{ code: string; message: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: operator.token,
      body: { payload: {} },
    });
    expect([refused.statusCode, refused.json.code]).toEqual([400, 'bad_request']);
    expect(refused.json.message).toContain('has no value');
    const unknown = await t.request<{ code: string }>({
      url: '/api/tasks/00000000-0000-4000-8000-000000000000',
      token: admin,
    });
    expect([unknown.statusCode, unknown.json.code]).toEqual([404, 'not_found']);
  });

  it('refuses to delete a program that rules still run (409, with their count), and deletes it once they are gone', async () => {
    const p = await create(t, admin, '/api/programs', { name: 'in-use', command: program('sync.sh') });
    const source = await create(t, admin, '/api/sources', { slug: 'uses-program', scheme: 'none' });
    const rules = [
      await create(t, admin, `/api/sources/${source.id}/rules`, { name: 'first', program_id: p.id }),
      await create(t, admin, `/api/sources/${source.id}/rules`, { name: 'second', program_id: p.id }),
    ];
    const refused = await t.request<{ code: string; message: string }>({
      method: 'DELETE',
      url: `/api/programs/${p.id}`,
      token: admin,
    });
    expect([refused.statusCode, refused.json.code, refused.json.message]).toEqual([
      409,
      'conflict',
      'Program in-use is used by 2 rule(s); delete or change them first',
    ]);
    expect((await t.request({ url: `/api/programs/${p.id}`, token: admin })).statusCode).toBe(200);
    for (const rule of rules)
      expect(
        (await t.request({ method: 'DELETE', url: `/api/sources/${source.id}/rules/${rule.id}`, token: admin }))
          .statusCode,
      ).toBe(200);
    const deleted = await t.request<{ id: string }>({ method: 'DELETE', url: `/api/programs/${p.id}`, token: admin });
    expect([deleted.statusCode, deleted.json.id]).toEqual([200, p.id]);
    expect((await t.request({ url: `/api/programs/${p.id}`, token: admin })).statusCode).toBe(404);
  });

  it('times out a run, ending its whole process group', async () => {
    const p = await create(t, admin, '/api/programs', {
      name: 'sleepy',
      command: program('sleep.sh'),
      args: ['30'],
      timeout_seconds: 1,
    });
    const run = await t.request<{ id: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: admin,
      body: {},
    });
    const done = await waitForTask(t, admin, run.json.id);
    expect(done.status).toBe('timed_out');
    expect(done.error).toBe('timed out after 1 s');
    expect(done.stdout).toContain('sleeping');
    const pid = Number(/sleeping (\d+)/.exec(done.stdout)?.[1]);
    // The group leader and its background child are gone (zombies waiting for a reaper do not count).
    expect(pid).toBeGreaterThan(0);
    expect(liveInGroup(pid)).toEqual([]);
  });

  it('cancels a running task and refuses to cancel a finished one', async () => {
    const p = await create(t, admin, '/api/programs', { name: 'long', command: program('sleep.sh'), args: ['30'] });
    const run = await t.request<{ id: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: admin,
      body: {},
    });
    await waitForTask(t, admin, run.json.id, (x) => x.status === 'running');
    const cancel = await t.request({ method: 'POST', url: `/api/tasks/${run.json.id}/cancel`, token: admin });
    expect(cancel.statusCode).toBe(200);
    const done = await waitForTask(t, admin, run.json.id);
    expect(done.status).toBe('canceled');
    expect(done.error).toContain('canceled by admin');
    const again = await t.request<{ code: string }>({
      method: 'POST',
      url: `/api/tasks/${run.json.id}/cancel`,
      token: admin,
    });
    expect([again.statusCode, again.json.code]).toEqual([409, 'conflict']);
  });

  it('applies the retry policy to a failing program, then retries by hand', async () => {
    const p = await create(t, admin, '/api/programs', {
      name: 'flaky',
      command: program('fail.sh'),
      args: ['4'],
      retry_max: 1,
      retry_backoff_seconds: 0,
    });
    const run = await t.request<{ id: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: admin,
      body: {},
    });
    const first = await waitForTask(t, admin, run.json.id);
    expect(first).toMatchObject({ status: 'failed', exit_code: 4, error: 'exited with code 4' });
    expect(first.stderr).toContain('about to fail');
    const retries = await t.request<{
      items: Array<{ id: string; retry_of: string; attempt: number; trigger: string }>;
    }>({ url: `/api/tasks?program_id=${p.id}`, token: admin });
    const auto = retries.json.items.find((x) => x.retry_of === run.json.id);
    expect(auto).toMatchObject({ attempt: 2, trigger: 'retry' });
    const second = await waitForTask(t, admin, auto!.id);
    expect(second.status).toBe('failed');
    const all = await t.request<{ total: number }>({ url: `/api/tasks?program_id=${p.id}`, token: admin });
    expect(all.json.total).toBe(2);
    const manual = await t.request<{ id: string; retry_of: string }>({
      method: 'POST',
      url: `/api/tasks/${second.id}/retry`,
      token: admin,
    });
    expect(manual.statusCode).toBe(201);
    expect(manual.json.retry_of).toBe(second.id);
  });

  it('streams the output of a task as server-sent events', async () => {
    const p = await create(t, admin, '/api/programs', { name: 'talker', command: program('backup.sh'), args: ['-x'] });
    const run = await t.request<{ id: string }>({
      method: 'POST',
      url: `/api/programs/${p.id}/run`,
      token: admin,
      body: {},
    });
    const res = await fetch(`${t.baseUrl}/api/tasks/${run.json.id}/output`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text).toContain('event: stdout');
    expect(text).toContain('backup done');
    expect(text).toContain('event: end');
    const unknown = await fetch(`${t.baseUrl}/api/tasks/00000000-0000-4000-8000-000000000000/output`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(unknown.status).toBe(404);
  });
});
