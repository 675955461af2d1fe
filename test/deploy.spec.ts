import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const root = process.cwd();
const read = (file: string) => readFileSync(join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  deploy?: { replicas?: number | string };
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

describe('deployment files', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  const nest = JSON.parse(read('nest-cli.json')) as { projects: Record<string, { entryFile?: string }> };

  it('declares postgres, redis, api and worker, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'redis', 'worker']);
    for (const service of Object.values(compose.services)) expect(service.healthcheck?.test.length).toBeGreaterThan(0);
    for (const name of ['api', 'worker'])
      for (const store of ['postgres', 'redis'])
        expect({ name, store, condition: compose.services[name].depends_on?.[store]?.condition }).toEqual({
          name,
          store,
          condition: 'service_healthy',
        });
  });

  /** A value as Compose reads it: `${NAME:-default}` is its default when NAME is unset. */
  const withDefaults = (value: string | number | undefined): string =>
    String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

  it('scales out: several API replicas and several workers, on one Postgres and one Redis', () => {
    const { api, worker } = compose.services;
    for (const service of [api, worker])
      expect(Number(withDefaults(service.deploy?.replicas))).toBeGreaterThanOrEqual(2);
    // Each API replica publishes a port of its own: a host port range at least as wide as the replicas.
    const [hostPorts, containerPort] = withDefaults(api.ports?.[0]).split(':');
    const [first, last] = hostPorts.split('-').map(Number);
    expect(containerPort).toBe('3000');
    expect(last - first + 1).toBeGreaterThanOrEqual(Number(withDefaults(api.deploy?.replicas)));
    // Workers take the queues they are told, `default` unless set.
    expect(withDefaults(worker.environment?.HOOKHUB_WORKER_QUEUES)).toBe('default');
    expect(api.environment?.HOOKHUB_WORKER_QUEUES).toBeUndefined();
  });

  it('runs the entry points that the build produces, the same ones the npm scripts start', () => {
    const entries = Object.values(nest.projects)
      .filter((p) => p.entryFile?.startsWith('apps/'))
      .map((p) => `dist/${p.entryFile}.js`);
    expect(entries.sort()).toEqual(['dist/apps/api/src/main.js', 'dist/apps/worker/src/main.js']);
    expect(compose.services.api.command).toEqual(['node', 'dist/apps/api/src/main.js']);
    expect(compose.services.worker.command).toEqual(['node', 'dist/apps/worker/src/main.js']);
    expect(pkg.scripts.start).toContain('dist/apps/api/src/main.js');
    expect(pkg.scripts['start:worker']).toContain('dist/apps/worker/src/main.js');
    for (const file of ['apps/api/src/main.ts', 'apps/worker/src/main.ts'])
      expect(existsSync(join(root, file))).toBe(true);
  });

  it('configures production with a real Postgres and explicit secrets, workers only in the worker', () => {
    for (const name of ['api', 'worker']) {
      const env = compose.services[name].environment ?? {};
      expect(env.NODE_ENV).toBe('production');
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
      // Shared by every process: rate limits and counters hold over all of them.
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.HOOKHUB_JWT_SECRET).toContain('HOOKHUB_JWT_SECRET');
      expect(env.HOOKHUB_MASTER_KEY).toContain('HOOKHUB_MASTER_KEY');
    }
    expect(compose.services.api.environment?.HOOKHUB_RUN_WORKERS).toBe('false');
  });

  it('builds both apps in a multi-stage Dockerfile with the scripts that exist', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    const runScripts = [...dockerfile.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]);
    expect(runScripts.length).toBeGreaterThan(0);
    for (const script of runScripts) expect(pkg.scripts).toHaveProperty([script]);
    for (const copied of [...dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/?\S*$/gm)].flatMap((m) =>
      m[1].split(/\s+/),
    )) {
      expect({ copied, exists: existsSync(join(root, copied)) }).toEqual({ copied, exists: true });
    }
    // What the build script runs is copied before it runs (the console's build is scripts/build-console.mjs).
    for (const script of runScripts)
      for (const file of pkg.scripts[script].match(/scripts\/[\w.-]+/g) ?? [])
        expect({ file, copied: /^COPY scripts \.\/scripts$/m.test(dockerfile) }).toEqual({ file, copied: true });
    expect(dockerfile).toContain('CMD ["node", "dist/apps/api/src/main.js"]');
    // The runtime the project is tested on: Node 24 LTS in both stages.
    expect(dockerfile.match(/^FROM node:(\d+)/gm)).toEqual(['FROM node:24', 'FROM node:24']);
  });
});
