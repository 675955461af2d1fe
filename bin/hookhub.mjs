#!/usr/bin/env node
// The `hookhub` command (package.json "bin"; `npx hookhub ...` from a clone). It runs the built CLI in
// dist/, building first when dist/ is missing or older than the sources (the build's output goes to stderr,
// so scripts reading stdout see only the command's answer).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist/apps/cli/src/main.js');
if (!existsSync(main) || process.env.HOOKHUB_CLI_SKIP_BUILD !== '1') {
  const build = spawnSync(process.execPath, [join(root, 'scripts/build-if-stale.mjs')], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const { run } = createRequire(import.meta.url)(main);
process.exitCode = await run(process.argv.slice(2));
