import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { cidrProblem } from '../net/ip-list';

export type NodeEnv = 'development' | 'production' | 'test';
export type DatabaseSslMode = 'disable' | 'require' | 'verify-full';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Raised when the environment does not describe a valid configuration; lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Where the generated development secrets are kept, inside the data dir. */
export const DEV_SECRETS_FILE = 'secrets.json';

/**
 * The validated configuration of a Hookhub process. Built once at boot from the environment by
 * {@link loadConfig}; every setting is typed and every problem names the variable.
 */
export interface AppConfig {
  readonly nodeEnv: NodeEnv;
  readonly isProduction: boolean;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly database: {
    /** Real Postgres when set; the embedded PGlite store otherwise. */
    readonly url?: string;
    readonly poolSize: number;
    readonly statementTimeoutMs: number;
    readonly ssl: DatabaseSslMode;
    readonly sslCaFile?: string;
    readonly embeddedPort: number;
    readonly embeddedPoolSize: number;
    /** The embedded store's Postgres `shared_buffers`, in MB: most of its idle memory. */
    readonly embeddedSharedBuffersMb: number;
    readonly migrationsRun: boolean;
  };
  readonly auth: {
    readonly jwtSecret: string;
    readonly jwtTtlSeconds: number;
    readonly adminUsername: string;
    readonly adminPassword?: string;
    readonly loginRateLimit: number;
    readonly loginRateWindowSeconds: number;
  };
  readonly masterKey: Buffer;
  /** Where each secret came from; `generated` means kept in the data dir (development only). */
  readonly secretSources: { readonly jwtSecret: 'env' | 'generated'; readonly masterKey: 'env' | 'generated' };
  readonly http: {
    readonly bodyLimit: number;
    /** Admin API requests per window, per principal (or per client address without credentials); 0 = no limit. */
    readonly rateLimit: number;
    readonly rateWindowSeconds: number;
    readonly trustProxy: boolean | string[] | number;
    readonly docs: boolean;
    /** Serve the operator console at /console (HOOKHUB_CONSOLE). */
    readonly console: boolean;
    /** The built console's directory (HOOKHUB_CONSOLE_DIR); undefined: the one beside the built API. */
    readonly consoleDir?: string;
    readonly shutdownTimeoutMs: number;
  };
  readonly logLevel: LogLevel;
  readonly redisUrl?: string;
  /** A YAML file of programs, sources and rules applied at boot (HOOKHUB_CONFIG). */
  readonly configFile?: string;
  readonly queue: {
    readonly runWorkers: boolean;
    readonly pollIntervalMs: number;
    /** The task queues this process's task worker takes (HOOKHUB_WORKER_QUEUES). */
    readonly workerQueues: string[];
    /** Seconds between the heartbeats a process that runs workers writes to `workers`. */
    readonly workerHeartbeatSeconds: number;
  };
  readonly tasks: {
    /** Directories whose executables may be registered as programs. */
    readonly programDirs: string[];
    /** Executables allowed individually, outside the program dirs. */
    readonly programAllow: string[];
    /** Task runs executed at once by one process. */
    readonly concurrency: number;
    /** Time between SIGTERM and SIGKILL when a run times out or is canceled. */
    readonly killGraceMs: number;
    readonly leaseMs: number;
    /** Programs are started by a small process of their own (cheaper than from the hub's large one). */
    readonly spawner: boolean;
  };
  readonly outbound: {
    /** Addresses or CIDRs outbound requests may reach although they are private, loopback or reserved. */
    readonly allow: string[];
    /** Deliveries in flight at once in one process. */
    readonly concurrency: number;
    /** Deliveries in flight at once to one webhook when it sets no max_in_flight of its own. */
    readonly webhookInFlight: number;
    readonly leaseMs: number;
    /** Largest event payload (the JSON of `data`) accepted by POST /api/events. */
    readonly maxPayloadBytes: number;
    /** Seconds between attempts when a webhook sets no schedule of its own. */
    readonly retrySchedule: number[];
    /** A webhook whose every attempt failed for this long is disabled. */
    readonly disableAfterSeconds: number;
    /** How long the previous secret keeps signing after a rotation, unless the rotation says otherwise. */
    readonly rotationGraceSeconds: number;
    /** Delivery attempts and events older than this are deleted. */
    readonly retentionDays: number;
  };
  readonly inbound: {
    /** Largest body cap a source may set; also the receiver's hard limit. */
    readonly maxBodyLimit: number;
    /** Bytes of each received body kept in its receipt. */
    readonly receiptBodyCap: number;
    /** Refusals of one source within a minute that publish `source.rejected_burst`. */
    readonly rejectedBurstThreshold: number;
  };
}

type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  /**
   * The variable to read for a setting that was renamed: `name`, unless only `oldName` is set (deployments
   * written before the rename keep working). Problems then name the variable actually read.
   */
  renamed(name: string, oldName: string): string {
    return this.raw(name) === undefined && this.raw(oldName) !== undefined ? oldName : name;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw)) {
      this.problems.push(`${name} must be an integer, got "${raw}"`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) {
      this.problems.push(`${name} must be between ${min} and ${max}, got ${value}`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.raw(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    return fallback;
  }
}

/** Parses HOOKHUB_MASTER_KEY: 32 bytes as base64 (44 chars) or hex (64 chars). */
export function parseMasterKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(raw)) {
    const key = Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

function cidrList(reader: Reader, name: string): string[] {
  const entries = (reader.raw(name) ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const bad = entries.map(cidrProblem).filter((p): p is string => p !== null);
  if (bad.length) reader.problems.push(`${name} must list addresses or CIDRs: ${bad.join('; ')}`);
  return entries;
}

function scheduleOf(reader: Reader, name: string, fallback: number[]): number[] {
  const raw = reader.raw(name);
  if (raw === undefined) return fallback;
  const entries = raw.split(',').map((e) => e.trim());
  const values = entries.map(Number);
  if (
    !entries.length ||
    entries.length > 20 ||
    values.some((v, i) => !/^\d+(\.\d+)?$/.test(entries[i]) || v > 7 * 86400)
  ) {
    reader.problems.push(
      `${name} must list 1 to 20 waits in seconds (each at most 604800), comma-separated, got "${raw}"`,
    );
    return fallback;
  }
  return values;
}

/** A task queue's name: what programs name in `queue` and HOOKHUB_WORKER_QUEUES lists. */
export const QUEUE_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
/** The queue of a program that names none, and the one a worker takes without HOOKHUB_WORKER_QUEUES. */
export const DEFAULT_QUEUE_NAME = 'default';

/** HOOKHUB_WORKER_QUEUES: comma-separated queue names, each at most once; `default` when unset. */
function queueList(reader: Reader, name: string): string[] {
  const raw = reader.raw(name);
  if (raw === undefined) return [DEFAULT_QUEUE_NAME];
  const entries = raw.split(',').map((e) => e.trim());
  const bad = entries.filter((e) => !QUEUE_NAME_PATTERN.test(e));
  if (bad.length) {
    reader.problems.push(
      `${name} must list queue names (lower-case letters, digits, . _ -, starting with a letter or digit, at most 64 characters), comma-separated, got "${raw}"`,
    );
    return [DEFAULT_QUEUE_NAME];
  }
  return [...new Set(entries)];
}

function optionalDir(reader: Reader, name: string): string | undefined {
  const raw = reader.raw(name);
  return raw === undefined ? undefined : resolve(process.cwd(), raw);
}

function configFileOf(reader: Reader): string | undefined {
  const raw = reader.raw('HOOKHUB_CONFIG');
  if (raw === undefined) return undefined;
  const file = resolve(process.cwd(), raw);
  if (!existsSync(file)) reader.problems.push(`HOOKHUB_CONFIG file not found: ${file}`);
  return file;
}

function parseTrustProxy(reader: Reader): boolean | string[] | number {
  const raw = reader.raw('HOOKHUB_TRUST_PROXY');
  if (raw === undefined) return false;
  const lower = raw.toLowerCase();
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  if (['true', 'yes', 'on'].includes(lower)) return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = entries.filter((e) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(e));
  if (bad.length) {
    reader.problems.push(
      `HOOKHUB_TRUST_PROXY must be true, false, a hop count or a comma-separated list of addresses/CIDRs, got "${bad.join(', ')}"`,
    );
    return false;
  }
  return entries;
}

interface DevSecrets {
  jwtSecret: string;
  masterKey: string;
}

/** Reads the development secrets kept in the data dir, creating them (mode 0600) on first use. */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, DEV_SECRETS_FILE);
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (typeof parsed.jwtSecret === 'string' && typeof parsed.masterKey === 'string') {
      return { jwtSecret: parsed.jwtSecret, masterKey: parsed.masterKey };
    }
    throw new ConfigError([`${file} is not a valid secrets file; remove it to generate new secrets`]);
  }
  mkdirSync(dataDir, { recursive: true });
  const secrets: DevSecrets = {
    jwtSecret: randomBytes(48).toString('base64url'),
    masterKey: randomBytes(32).toString('base64'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}

/**
 * Builds and validates the configuration from the environment. Throws a {@link ConfigError} naming every
 * bad variable. In production the JWT secret and master key must be given explicitly; elsewhere they are
 * generated once and kept in the data dir.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const r = new Reader(env);
  const nodeEnv = r.oneOf<NodeEnv>('NODE_ENV', ['development', 'production', 'test'], 'development');
  const isProduction = nodeEnv === 'production';
  const dataDirRaw = r.string('HOOKHUB_DATA_DIR', './data');
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(process.cwd(), dataDirRaw);

  const databaseUrl = r.raw('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    r.problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const ssl = r.oneOf<DatabaseSslMode>('DATABASE_SSL', ['disable', 'require', 'verify-full'], 'disable');
  const sslCaFile = r.raw('DATABASE_SSL_CA');
  if (sslCaFile !== undefined && !existsSync(sslCaFile))
    r.problems.push(`DATABASE_SSL_CA file not found: ${sslCaFile}`);

  const adminPassword = r.raw('HOOKHUB_ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 8) {
    r.problems.push('HOOKHUB_ADMIN_PASSWORD must be at least 8 characters');
  }

  let jwtSecret = r.raw('HOOKHUB_JWT_SECRET');
  let masterKeyRaw = r.raw('HOOKHUB_MASTER_KEY');
  const secretSources = {
    jwtSecret: (jwtSecret ? 'env' : 'generated') as 'env' | 'generated',
    masterKey: (masterKeyRaw ? 'env' : 'generated') as 'env' | 'generated',
  };
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    r.problems.push('HOOKHUB_JWT_SECRET must be at least 32 characters');
  }
  let masterKey = masterKeyRaw ? parseMasterKey(masterKeyRaw) : undefined;
  if (masterKeyRaw && !masterKey) {
    r.problems.push(
      'HOOKHUB_MASTER_KEY must be 32 bytes, as base64 (44 chars) or hex (64 chars); generate one with `openssl rand -base64 32`',
    );
  }
  if (isProduction) {
    if (!jwtSecret)
      r.problems.push(
        'HOOKHUB_JWT_SECRET is required when NODE_ENV=production (at least 32 characters; `openssl rand -base64 48`)',
      );
    if (!masterKeyRaw)
      r.problems.push('HOOKHUB_MASTER_KEY is required when NODE_ENV=production (`openssl rand -base64 32`)');
  }

  const absList = (name: string, fallback: string[]): string[] => {
    const raw = r.raw(name);
    if (raw === undefined) return fallback;
    const entries = raw
      .split(/[,:]/)
      .map((x) => x.trim())
      .filter(Boolean);
    const bad = entries.filter((e) => !isAbsolute(e));
    if (bad.length) r.problems.push(`${name} must list absolute paths, got "${bad.join(', ')}"`);
    return entries.filter((e) => isAbsolute(e)).map((e) => resolve(e));
  };
  const config = {
    nodeEnv,
    isProduction,
    host: r.string('HOST', '0.0.0.0'),
    port: r.int('PORT', 3000, 0, 65535),
    dataDir,
    database: {
      url: databaseUrl,
      poolSize: r.int('DATABASE_POOL_SIZE', 10, 1, 1000),
      statementTimeoutMs: r.int('DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 0, 3_600_000),
      ssl,
      sslCaFile,
      embeddedPort: r.int('HOOKHUB_EMBEDDED_PORT', 0, 0, 65535),
      embeddedPoolSize: r.int('HOOKHUB_EMBEDDED_POOL_SIZE', 5, 1, 50),
      embeddedSharedBuffersMb: r.int('HOOKHUB_EMBEDDED_SHARED_BUFFERS_MB', 16, 1, 4096),
      migrationsRun: r.bool('HOOKHUB_MIGRATIONS_RUN', true),
    },
    auth: {
      jwtSecret: '',
      jwtTtlSeconds: r.int('HOOKHUB_JWT_TTL_SECONDS', 3600, 60, 30 * 24 * 3600),
      adminUsername: r.string('HOOKHUB_ADMIN_USERNAME', 'admin'),
      adminPassword,
      loginRateLimit: r.int('HOOKHUB_LOGIN_RATE_LIMIT', 10, 1, 100_000),
      loginRateWindowSeconds: r.int('HOOKHUB_LOGIN_RATE_WINDOW_SECONDS', 60, 1, 86_400),
    },
    masterKey: Buffer.alloc(0),
    secretSources,
    http: {
      bodyLimit: r.int('HOOKHUB_API_BODY_LIMIT', 1024 * 1024, 1024, 1024 * 1024 * 1024),
      rateLimit: r.int('HOOKHUB_API_RATE_LIMIT', 6000, 0, 100_000_000),
      rateWindowSeconds: r.int('HOOKHUB_API_RATE_WINDOW_SECONDS', 60, 1, 86_400),
      trustProxy: parseTrustProxy(r),
      docs: r.bool('HOOKHUB_DOCS', true),
      console: r.bool('HOOKHUB_CONSOLE', true),
      consoleDir: optionalDir(r, 'HOOKHUB_CONSOLE_DIR'),
      shutdownTimeoutMs: r.int('HOOKHUB_SHUTDOWN_TIMEOUT_MS', 30_000, 0, 600_000),
    },
    logLevel: r.oneOf<LogLevel>(
      'HOOKHUB_LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      'info',
    ),
    redisUrl: r.raw('REDIS_URL'),
    configFile: configFileOf(r),
    queue: {
      runWorkers: r.bool('HOOKHUB_RUN_WORKERS', true),
      pollIntervalMs: r.int('HOOKHUB_QUEUE_POLL_MS', 5000, 50, 3_600_000),
      workerQueues: queueList(r, 'HOOKHUB_WORKER_QUEUES'),
      workerHeartbeatSeconds: r.int('HOOKHUB_WORKER_HEARTBEAT_SECONDS', 5, 1, 3600),
    },
    tasks: {
      programDirs: absList('HOOKHUB_PROGRAM_DIRS', [join(dataDir, 'programs')]),
      programAllow: absList('HOOKHUB_PROGRAM_ALLOW', []),
      concurrency: r.int('HOOKHUB_TASK_CONCURRENCY', 4, 1, 1000),
      killGraceMs: r.int('HOOKHUB_TASK_KILL_GRACE_MS', 5000, 0, 600_000),
      leaseMs: r.int('HOOKHUB_TASK_LEASE_MS', 30_000, 1000, 3_600_000),
      spawner: r.bool('HOOKHUB_TASK_SPAWNER', true),
    },
    outbound: {
      allow: cidrList(r, 'HOOKHUB_OUTBOUND_ALLOW'),
      concurrency: r.int('HOOKHUB_DELIVERY_CONCURRENCY', 64, 1, 10_000),
      webhookInFlight: r.int(
        r.renamed('HOOKHUB_DELIVERY_WEBHOOK_IN_FLIGHT', 'HOOKHUB_DELIVERY_SUBSCRIPTION_IN_FLIGHT'),
        10,
        1,
        10_000,
      ),
      leaseMs: r.int('HOOKHUB_DELIVERY_LEASE_MS', 60_000, 1000, 3_600_000),
      maxPayloadBytes: r.int('HOOKHUB_EVENT_MAX_BYTES', 256 * 1024, 1024, 16 * 1024 * 1024),
      retrySchedule: scheduleOf(r, 'HOOKHUB_RETRY_SCHEDULE', [5, 300, 1800, 7200, 18000, 36000, 36000]),
      disableAfterSeconds: r.int('HOOKHUB_WEBHOOK_DISABLE_AFTER_SECONDS', 5 * 86400, 1, 365 * 86400),
      rotationGraceSeconds: r.int('HOOKHUB_SECRET_ROTATION_GRACE_SECONDS', 86400, 0, 30 * 86400),
      retentionDays: r.int('HOOKHUB_RETENTION_DAYS', 30, 1, 3650),
    },
    inbound: {
      maxBodyLimit: r.int('HOOKHUB_INBOUND_MAX_BODY', 10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
      receiptBodyCap: r.int('HOOKHUB_RECEIPT_BODY_CAP', 64 * 1024, 0, 16 * 1024 * 1024),
      rejectedBurstThreshold: r.int('HOOKHUB_REJECTED_BURST_THRESHOLD', 20, 1, 1_000_000),
    },
  };
  if (config.redisUrl !== undefined && !/^rediss?:\/\//.test(config.redisUrl)) {
    r.problems.push('REDIS_URL must start with redis:// or rediss://');
  }

  if (r.problems.length) throw new ConfigError(r.problems);

  if (!jwtSecret || !masterKey) {
    const dev = loadOrCreateDevSecrets(dataDir);
    jwtSecret ??= dev.jwtSecret;
    masterKeyRaw ??= dev.masterKey;
    masterKey ??= parseMasterKey(masterKeyRaw);
    if (!masterKey) throw new ConfigError([`the master key in ${join(dataDir, DEV_SECRETS_FILE)} is invalid`]);
  }
  return { ...config, auth: { ...config.auth, jwtSecret }, masterKey };
}
