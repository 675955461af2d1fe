/** Where the CLI writes: stdout for results, stderr for progress and messages. Tests swap these. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars redraw only there). */
  interactive: boolean;
  env: NodeJS.ProcessEnv;
  stdin(): Promise<string>;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  interactive: Boolean(process.stderr.isTTY),
  env: process.env,
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** A column of a table: a header and how to read a row's cell. */
export type Column<T> = [header: string, cell: (row: T) => unknown];

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.map(cellText).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).replace(/\s+/g, ' ');
}

/** Rows as an aligned text table, each cell cut at 60 characters. */
export function table<T>(rows: T[], columns: Array<Column<T>>): string {
  const cells = rows.map((row) =>
    columns.map(([, cell]) => {
      const text = cellText(cell(row));
      return text.length > 60 ? `${text.slice(0, 59)}…` : text;
    }),
  );
  const widths = columns.map(([header], i) => Math.max(header.length, ...cells.map((r) => r[i].length)));
  const line = (parts: string[]) =>
    parts
      .map((p, i) => (i === parts.length - 1 ? p : p.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map(([h]) => h.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

/** A record as `key: value` lines. */
export function record(value: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(value).map((k) => k.length));
  return (
    Object.entries(value)
      .map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'object' && v !== null ? JSON.stringify(v) : cellText(v)}`)
      .join('\n') + '\n'
  );
}

/**
 * A progress bar on stderr for long operations: redrawn in place on a terminal, one line per tenth
 * otherwise (logs stay short), never on stdout (which scripts read).
 */
export class Progress {
  private done = 0;
  private lastTenth = -1;

  constructor(
    private readonly io: Io,
    private readonly label: string,
    private readonly total: number,
  ) {}

  tick(note = ''): void {
    this.update(this.done + 1, note);
  }

  /** Moves the bar to `done` (drawn only when it moved). */
  update(done: number, note = ''): void {
    if (done === this.done && done !== 0) return;
    this.done = done;
    const ratio = this.total ? this.done / this.total : 1;
    const width = 24;
    const filled = Math.round(ratio * width);
    const bar = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total}`;
    if (this.io.interactive) {
      this.io.err(`\r${bar} ${note}`.slice(0, 120).padEnd(120));
      if (this.done === this.total) this.io.err('\n');
      return;
    }
    const tenth = Math.floor(ratio * 10);
    if (tenth !== this.lastTenth || this.done === this.total) {
      this.lastTenth = tenth;
      this.io.err(`${bar}${note ? ` ${note}` : ''}\n`);
    }
  }
}
