import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, program, waitForTask } from './helpers/inbound';

const EXAMPLES = join(process.cwd(), 'examples');
const SECRET = 'examples-secret';

function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** The client examples in examples/, run as they are against a live hub: each one's signature must be accepted. */
describe('client examples', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await bootApp({ HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR, HOOKHUB_QUEUE_POLL_MS: '200' });
    admin = await t.login();
    const deploy = await create(t, admin, '/api/programs', {
      name: 'deploy',
      command: program('deploy.sh'),
      args: ['{{body.ref}}', 'example'],
    });
    const source = await create(t, admin, '/api/sources', { slug: 'github', scheme: 'github', secrets: [SECRET] });
    await create(t, admin, `/api/sources/${source.id}/rules`, {
      name: 'push',
      condition: { path: 'event', eq: 'push' },
      program_id: deploy.id,
    });
  });
  afterAll(() => t.close());

  it.each([
    ['send-trigger.sh (curl + openssl)', 'bash', ['send-trigger.sh']],
    ['send-trigger.mjs (Node)', process.execPath, ['send-trigger.mjs']],
    ['send_trigger.py (Python)', 'python3', ['send_trigger.py']],
  ])('%s is accepted and runs the task; with a wrong secret it fails with 401', async (_name, command, [file]) => {
    const env = {
      HOOKHUB_URL: t.baseUrl,
      HOOKHUB_SOURCE: 'github',
      HOOKHUB_BODY: `{"ref": "refs/heads/main", "via": "${file}"}`,
    };
    const ok = await run(command, [join(EXAMPLES, file)], { ...env, HOOKHUB_SECRET: SECRET });
    expect(ok.output).toContain('status 202');
    expect(ok.code).toBe(0);
    const taskId = /"task_ids":\["([0-9a-f-]{36})"\]/.exec(ok.output)?.[1];
    expect(taskId).toBeDefined();
    expect((await waitForTask(t, admin, taskId!)).stdout).toContain('deploying ref=refs/heads/main commit=example');
    const bad = await run(command, [join(EXAMPLES, file)], { ...env, HOOKHUB_SECRET: 'not-the-secret' });
    expect(bad.output).toContain('status 401');
    expect(bad.code).not.toBe(0);
  });
});
