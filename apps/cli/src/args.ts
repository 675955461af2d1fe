import { CliError, EXIT } from './cli-error';

/** A command line: words, and `--name value` / `--name=value` / `-x value` options (repeatable ones kept in order). */
export interface Parsed {
  words: string[];
  options: Map<string, string[]>;
}

/**
 * Parses `argv`. `flags` are options that take no value (`--json`, `-f`); every other option takes the next
 * word (or what follows `=`). `--` ends the options.
 */
export function parseArgs(argv: string[], flags: ReadonlySet<string>): Parsed {
  const words: string[] = [];
  const options = new Map<string, string[]>();
  const add = (name: string, value: string) => options.set(name, [...(options.get(name) ?? []), value]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    const long = /^--([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    const short = /^-([a-zA-Z])$/.exec(arg);
    if (!long && !short) {
      words.push(arg);
      continue;
    }
    const name = long ? long[1] : short![1];
    if (flags.has(name)) {
      if (long?.[2] !== undefined) throw new CliError(`--${name} takes no value`, EXIT.usage);
      add(name, 'true');
    } else if (long?.[2] !== undefined) add(name, long[2]);
    else if (i + 1 < argv.length) add(name, argv[++i]);
    else throw new CliError(`${arg} needs a value`, EXIT.usage);
  }
  return { words, options };
}

/** Reads options of a parsed command line, remembering which were read so the rest can be refused. */
export class Options {
  private readonly read = new Set<string>();

  constructor(private readonly parsed: Parsed) {}

  get words(): string[] {
    return this.parsed.words;
  }

  /** The last value of `--name` (or of one of its spellings). */
  value(...names: string[]): string | undefined {
    let found: string | undefined;
    for (const name of names) {
      this.read.add(name);
      const values = this.parsed.options.get(name);
      if (values?.length) found = values[values.length - 1];
    }
    return found;
  }

  all(name: string): string[] {
    this.read.add(name);
    return this.parsed.options.get(name) ?? [];
  }

  flag(...names: string[]): boolean {
    return this.value(...names) === 'true';
  }

  int(name: string, fallback: number): number {
    const text = this.value(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new CliError(`--${name} must be a whole number`, EXIT.usage);
    return n;
  }

  /** Options given but never read: a typo, or an option of another command. */
  unread(): string[] {
    return [...this.parsed.options.keys()].filter((name) => !this.read.has(name));
  }

  /** Every option not read by the command, as query parameters (`--status failed` is `status=failed`). */
  rest(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of this.unread()) out[name.replaceAll('-', '_')] = this.value(name)!;
    return out;
  }
}
