import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `hookhub login` keeps: the hub, and a token (from a password login) or an API key. */
export interface Credentials {
  url: string;
  token?: string;
  api_key?: string;
  username?: string;
  /** When the token stops working (ISO time), when the hub said. */
  expires_at?: string;
}

/** `$HOOKHUB_CONFIG_DIR`, else `$XDG_CONFIG_HOME/hookhub`, else `~/.config/hookhub`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOOKHUB_CONFIG_DIR) return env.HOOKHUB_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'hookhub');
}

export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'credentials.json');
}

export function loadCredentials(env: NodeJS.ProcessEnv = process.env): Credentials | null {
  const file = credentialsFile(env);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as Credentials;
}

/** Written readable by the user only (0600, in a 0700 directory): it holds a credential. */
export function saveCredentials(credentials: Credentials, env: NodeJS.ProcessEnv = process.env): string {
  const file = credentialsFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // A new file, 0600 from its first byte, renamed over the old one: the token is never readable by others,
  // whatever mode an older file had.
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
  return file;
}

export function removeCredentials(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = credentialsFile(env);
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
}
