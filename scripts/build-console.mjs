// `npm run build`'s second half: the operator console. Writes the hub's OpenAPI document (from the API just
// built), generates the console's API types from it (apps/console/src/api/schema.d.ts and enums.ts, committed
// so the console's code can be read and linted without a build), type-checks the console against them and
// bundles it with Vite into dist/console (HOOKHUB_CONSOLE_OUT_DIR elsewhere).
// `--no-openapi` skips the first two steps and builds from the committed types (the tests do).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateConsoleApi } from './console-api.mjs';

const ROOT = join(import.meta.dirname, '..');
const CONSOLE = join(ROOT, 'apps/console');

function run(what, args) {
  const started = Date.now();
  const result = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: process.env });
  if (result.status !== 0) {
    process.stderr.write(`console build: ${what} failed\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`console build: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}

if (!process.argv.includes('--no-openapi')) {
  const documentFile = join(ROOT, 'dist/openapi.json');
  mkdirSync(dirname(documentFile), { recursive: true });
  run('OpenAPI document', [join(ROOT, 'dist/apps/api/src/openapi.js'), documentFile]);
  const changed = await generateConsoleApi(JSON.parse(readFileSync(documentFile, 'utf8')), join(CONSOLE, 'src/api'));
  process.stdout.write(
    `console build: API types ${changed.length ? `updated (${changed.join(', ')})` : 'unchanged'}\n`,
  );
}
if (!existsSync(join(CONSOLE, 'src/api/schema.d.ts'))) {
  process.stderr.write('console build: apps/console/src/api/schema.d.ts is missing: run npm run build\n');
  process.exit(1);
}
run('type check', [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(CONSOLE, 'tsconfig.json')]);
run('bundle', [
  join(ROOT, 'node_modules/vite/bin/vite.js'),
  'build',
  '--config',
  join(CONSOLE, 'vite.config.mts'),
  '--logLevel',
  'warn',
]);
