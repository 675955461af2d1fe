import { Options, parseArgs } from './args';
import { CliError, EXIT } from './cli-error';
import { Context } from './context';
import { RESOURCES, get, list, login, logout, logs, publish, recover, tail } from './api-commands';
import { type Io, processIo } from './output';
import {
  adminResetPassword,
  configApply,
  configExport,
  importHooks,
  migrateCommand,
  send,
  sign,
  verify,
} from './tool-commands';

const FLAGS = new Set([
  'json',
  'all',
  'follow',
  'f',
  'apply',
  'dry-run',
  'password-stdin',
  'enable',
  'strict',
  'wait',
  'help',
  'h',
]);

export const USAGE = `hookhub: the Hookhub command line (see the README, "The command line")

  hookhub login --url URL --username NAME --password-stdin | --api-key KEY
  hookhub logout
  hookhub sources|programs|webhooks|tasks|receipts|events list [--limit N] [--cursor C] [--all] [--FILTER VALUE]
  hookhub sources|programs|webhooks|tasks|receipts|events get ID
  hookhub events publish TYPE [--data JSON | --data-file FILE]
  hookhub tasks logs ID [-f]
  hookhub webhooks recover ID --from TIME [--to TIME] [--wait] [--timeout S]
  hookhub tail [--interval MS] [--count N]
  hookhub sign --scheme SCHEME --secret S [--body B | --body-file F]  (headers a sender would send)
  hookhub send SLUG --scheme SCHEME --secret S [--body B | --body-file F] [--path /alias]
  hookhub verify --secret S (-H 'Name: value')... | --headers-file F  [--body B | --body-file F]
  hookhub config export [-o FILE]
  hookhub config apply FILE [--dry-run]
  hookhub import adnanh HOOKS.json|yaml [--apply] [-o FILE] [--strict]
  hookhub migrate                               (on the store, with the hub's DATABASE_URL)
  hookhub admin reset-password USER --password-stdin [--enable]   (on the store)

  --json prints JSON for scripts. --url or HOOKHUB_URL chooses the hub; HOOKHUB_TOKEN or HOOKHUB_API_KEY
  overrides the saved login. Exit codes: 0 ok, 1 check failed, 2 usage, 3 not logged in or forbidden,
  4 not found, 5 refused as invalid, 6 hub unreachable or failing, 7 rate limited.
`;

/** Runs one command line; answers the exit code. Every error is one line on stderr (or JSON with --json). */
export async function run(argv: string[], io: Io = processIo): Promise<number> {
  let json = false;
  try {
    const opts = new Options(parseArgs(argv, FLAGS));
    json = opts.flag('json');
    const ctx = new Context(opts, io);
    const [first, second] = opts.words;
    if (!first || opts.flag('help', 'h') || first === 'help') {
      io.out(USAGE);
      return first || opts.flag('help', 'h') ? EXIT.ok : EXIT.usage;
    }
    const code = await dispatch(ctx, first, second);
    const unread = opts.unread();
    if (unread.length && code === EXIT.ok && !(first in RESOURCES && second === 'list'))
      io.err(`warning: ignored ${unread.map((o) => `--${o}`).join(', ')}\n`);
    return code;
  } catch (err) {
    const failure =
      err instanceof CliError ? err : new CliError(err instanceof Error ? err.message : String(err), EXIT.failed);
    io.err(
      json
        ? `${JSON.stringify({ error: failure.message, exit_code: failure.exitCode, details: failure.details })}\n`
        : `hookhub: ${failure.message}\n`,
    );
    return failure.exitCode;
  }
}

async function dispatch(ctx: Context, first: string, second: string | undefined): Promise<number> {
  const done = async (work: Promise<void>) => {
    await work;
    return EXIT.ok;
  };
  if (first in RESOURCES) {
    if (second === 'list') return done(list(ctx, first));
    if (second === 'get') return done(get(ctx, first));
    if (first === 'events' && second === 'publish') return done(publish(ctx));
    if (first === 'tasks' && second === 'logs') return logs(ctx);
    if (first === 'webhooks' && second === 'recover') return recover(ctx);
    throw new CliError(`unknown command: ${first} ${second ?? ''}`.trim() + ' (hookhub --help)', EXIT.usage);
  }
  switch (first) {
    case 'login':
      return done(login(ctx));
    case 'logout':
      logout(ctx);
      return EXIT.ok;
    case 'tail':
      return done(tail(ctx));
    case 'sign':
      return done(sign(ctx));
    case 'send':
      return send(ctx);
    case 'verify':
      return verify(ctx);
    case 'config':
      if (second === 'export') return done(configExport(ctx));
      if (second === 'apply') return done(configApply(ctx));
      break;
    case 'import':
      return importHooks(ctx);
    case 'migrate':
      return done(migrateCommand(ctx));
    case 'admin':
      if (second === 'reset-password') return done(adminResetPassword(ctx));
      break;
  }
  throw new CliError(`unknown command: ${[first, second].filter(Boolean).join(' ')} (hookhub --help)`, EXIT.usage);
}

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`hookhub: ${String(err)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
