import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hookhubVersion, createProcessIdentity } from '../process-identity';
import { ConfigError, QUEUE_NAME_PATTERN, loadConfig } from './app-config';

const base = { NODE_ENV: 'test', HOOKHUB_DATA_DIR: '/tmp/hookhub-config-test' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('HOOKHUB_WORKER_QUEUES and HOOKHUB_WORKER_HEARTBEAT_SECONDS', () => {
  it('takes the default queue and a 5 s heartbeat when unset', () => {
    expect(loadConfig(base).queue).toMatchObject({ workerQueues: ['default'], workerHeartbeatSeconds: 5 });
  });

  it('reads a comma-separated list of queue names, trimmed and each once', () => {
    const queues = loadConfig({ ...base, HOOKHUB_WORKER_QUEUES: ' backup, deploy.eu ,backup,db_dump-2' }).queue;
    expect(queues.workerQueues).toEqual(['backup', 'deploy.eu', 'db_dump-2']);
    expect(loadConfig({ ...base, HOOKHUB_WORKER_HEARTBEAT_SECONDS: '1' }).queue.workerHeartbeatSeconds).toBe(1);
  });

  it.each([
    ['upper case', 'Backup'],
    ['an empty entry', 'backup,,deploy'],
    ['a leading dot', '.hidden'],
    ['a space inside', 'back up'],
    ['65 characters', 'q'.repeat(65)],
  ])('refuses a list with %s, naming the variable', (_, value) => {
    expect(problemsOf({ HOOKHUB_WORKER_QUEUES: value })).toEqual([
      expect.stringMatching(/^HOOKHUB_WORKER_QUEUES must list queue names .*got "/),
    ]);
  });

  it('refuses a heartbeat that is not a whole number of seconds from 1 to 3600', () => {
    expect(problemsOf({ HOOKHUB_WORKER_HEARTBEAT_SECONDS: '0' })).toEqual([
      'HOOKHUB_WORKER_HEARTBEAT_SECONDS must be between 1 and 3600, got 0',
    ]);
    expect(problemsOf({ HOOKHUB_WORKER_HEARTBEAT_SECONDS: '2.5' })).toEqual([
      'HOOKHUB_WORKER_HEARTBEAT_SECONDS must be an integer, got "2.5"',
    ]);
  });

  it('accepts names of 1 to 64 characters starting with a letter or digit', () => {
    for (const ok of ['a', '0', 'default', 'q'.repeat(64), 'a.b_c-d']) expect(QUEUE_NAME_PATTERN.test(ok)).toBe(true);
    for (const bad of ['', '-a', '_a', 'a/b', 'ä', 'q'.repeat(65)]) expect(QUEUE_NAME_PATTERN.test(bad)).toBe(false);
  });
});

describe('the process identity', () => {
  it('is <hostname>:<pid>:<8 hex>, new for each identity, with the hub version', () => {
    const a = createProcessIdentity();
    const b = createProcessIdentity();
    expect(a.id).toBe(`${a.hostname}:${process.pid}:${a.id.split(':').pop()}`);
    expect(a.id).toMatch(/:[0-9a-f]{8}$/);
    expect(b.id).not.toBe(a.id);
    expect(a.pid).toBe(process.pid);
    // Jest runs from the project root: the version is the project's own.
    expect(a.version).toBe(hookhubVersion([process.cwd()]));
    expect(a.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("finds Hookhub's package.json above the start, skipping other packages', or says unknown", () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookhub-version-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'hookhub', version: '9.8.7' }));
      const nested = join(dir, 'node_modules', 'other');
      mkdirSync(nested, { recursive: true });
      writeFileSync(join(nested, 'package.json'), JSON.stringify({ name: 'other', version: '1.0.0' }));
      expect(hookhubVersion([join(nested, 'main.js')])).toBe('9.8.7');
      expect(hookhubVersion([undefined, tmpdir()])).toBe('unknown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
