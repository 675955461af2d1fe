import { readFileSync } from 'node:fs';
import type { Options } from './args';
import { CliError, EXIT } from './cli-error';
import { HubClient } from './client';
import { loadCredentials } from './credentials';
import type { Io } from './output';

/** What every command gets: its options, where to write, and (lazily) the hub. */
export class Context {
  constructor(
    readonly opts: Options,
    readonly io: Io,
  ) {}

  get json(): boolean {
    return this.opts.flag('json');
  }

  /** The hub: `--url`, else HOOKHUB_URL, else the one `login` saved, else http://localhost:3000. */
  hubUrl(): string {
    return (
      this.opts.value('url') ??
      this.io.env.HOOKHUB_URL ??
      loadCredentials(this.io.env)?.url ??
      'http://localhost:3000'
    ).replace(/\/+$/, '');
  }

  /** A client with the credential: HOOKHUB_TOKEN or HOOKHUB_API_KEY, else the one `login` saved for this hub. */
  client(): HubClient {
    const url = this.hubUrl();
    const env = this.io.env;
    if (env.HOOKHUB_TOKEN) return new HubClient(url, { token: env.HOOKHUB_TOKEN });
    if (env.HOOKHUB_API_KEY) return new HubClient(url, { apiKey: env.HOOKHUB_API_KEY });
    const saved = loadCredentials(env);
    if (!saved || saved.url !== url)
      throw new CliError(`not logged in to ${url}: run hookhub login --url ${url}`, EXIT.auth);
    return new HubClient(url, { token: saved.token, apiKey: saved.api_key });
  }

  /** Writes a result: JSON with --json, else the human text. */
  print(value: unknown, human: () => string): void {
    this.io.out(this.json ? `${JSON.stringify(value, null, 2)}\n` : human());
  }

  /** The body to send or sign: --body, --body-file, or standard input. */
  async body(): Promise<Buffer> {
    const text = this.opts.value('body');
    if (text !== undefined) return Buffer.from(text);
    const file = this.opts.value('body-file');
    if (file !== undefined) return readFileSync(file);
    return Buffer.from(await this.io.stdin());
  }

  word(index: number, what: string): string {
    const value = this.opts.words[index];
    if (value === undefined) throw new CliError(`missing ${what}`, EXIT.usage);
    return value;
  }
}
