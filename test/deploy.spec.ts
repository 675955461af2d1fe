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
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

describe('deployment files', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  const nest = JSON.parse(read('nest-cli.json')) as { projects: Record<string, { entryFile?: string }> };

  it('declares postgres, api and worker, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'worker']);
    for (const service of Object.values(compose.services)) expect(service.healthcheck?.test.length).toBeGreaterThan(0);
    expect(compose.services.api.depends_on?.postgres.condition).toBe('service_healthy');
  });

  it('runs the entry points that the build produces, the same ones the npm scripts start', () => {
    const entries = Object.values(nest.projects).filter((p) => p.entryFile?.startsWith('apps/')).map((p) => `dist/${p.entryFile}.js`);
    expect(entries.sort()).toEqual(['dist/apps/api/src/main.js', 'dist/apps/worker/src/main.js']);
    expect(compose.services.api.command).toEqual(['node', 'dist/apps/api/src/main.js']);
    expect(compose.services.worker.command).toEqual(['node', 'dist/apps/worker/src/main.js']);
    expect(pkg.scripts.start).toContain('dist/apps/api/src/main.js');
    expect(pkg.scripts['start:worker']).toContain('dist/apps/worker/src/main.js');
    for (const file of ['apps/api/src/main.ts', 'apps/worker/src/main.ts']) expect(existsSync(join(root, file))).toBe(true);
  });

  it('configures production with a real Postgres and explicit secrets, workers only in the worker', () => {
    for (const name of ['api', 'worker']) {
      const env = compose.services[name].environment ?? {};
      expect(env.NODE_ENV).toBe('production');
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
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
    for (const copied of [...dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/?\S*$/gm)].flatMap((m) => m[1].split(/\s+/))) {
      expect({ copied, exists: existsSync(join(root, copied)) }).toEqual({ copied, exists: true });
    }
    expect(dockerfile).toContain('CMD ["node", "dist/apps/api/src/main.js"]');
    // The runtime the project is tested on: Node 24 LTS in both stages.
    expect(dockerfile.match(/^FROM node:(\d+)/gm)).toEqual(['FROM node:24', 'FROM node:24']);
  });
});
