// `npm start`'s prestart: builds only when a build input changed since the last build (a restart with
// nothing changed skips the build and is ready in seconds). `npm run build` always builds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = 'dist/.build-stamp';
const INPUTS = [
  'apps',
  'libs',
  'migrations',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'nest-cli.json',
];

/** The newest modification time under `path`, directories included (a deleted file changes its directory's). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const sources = Math.max(...INPUTS.map(newest));
if (existsSync(STAMP) && existsSync('dist/apps/api/src/main.js') && statSync(STAMP).mtimeMs >= sources) {
  process.stdout.write('dist/ is up to date with the sources: not rebuilding\n');
  process.exit(0);
}
const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
