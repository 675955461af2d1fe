import { Agent, request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { ADMIN_PASSWORD, type TestApp, bootApp } from './helpers/app';
import { PROGRAMS_DIR, create, program, waitForTask } from './helpers/inbound';

/*
 * Fuzzes the whole admin API from its own OpenAPI document: every operation under /api/ (every method and
 * path of /docs-json) gets generated path parameters (ids of rows that exist, random uuids, garbage), query
 * parameters (from the declared ones: right and wrong types, NUL, huge and negative numbers, repeated keys,
 * empty strings) and JSON bodies (from the declared schema with its $refs resolved: valid-shaped objects,
 * wrong types, missing required fields, extra fields, deep nesting, huge strings, null, arrays...), sent as
 * an admin. Every answer must be below 500, and every non-2xx answer must carry the standard error body
 * `{statusCode, error, code, message, requestId}` with `statusCode` equal to the HTTP status.
 *
 * No operation is excluded. The ones that could lock the test out (demoting, disabling or re-passwording the
 * admin it is logged in as, `PUT /api/auth/password` with the right current password) run like the others:
 * after each change to users or passwords the test checks its session and, when it was ended, a second admin
 * that the fuzz never targets puts the first one back (role, enabled, password) and the test logs in again.
 * Rows the fuzz deletes are created again, so that path ids keep hitting real rows.
 *
 * Random seeds: a failure prints fast-check's seed and counterexample per operation, and the run's base seed;
 * `FUZZ_SEED=<base seed>` replays the same generated values (the rows they hit may differ). `FUZZ_RUNS` sets
 * the runs per operation, `FUZZ_LOG_LEVEL=error` shows the server's log (the stack of a 500), `FUZZ_STATS=1` the
 * statuses each operation got (`FUZZ_STATS=messages` also the 400s).
 */

const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 20);
const BASE_SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Past this, an operation's runs stop (counting as passed unless one failed): a bound on shrinking, not a goal. */
const OPERATION_TIME_LIMIT_MS = 20_000;
/** No port listens here on a test machine: webhook deliveries and tests are refused at once. */
const DEAD_URL = 'http://127.0.0.1:9/fuzz';
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Jest's timeouts (the config's 60 s is too short for this file on a slow 2-core machine). */
const SETUP_TIMEOUT_MS = 120_000;
const FUZZ_TIMEOUT_MS = 180_000;

// ---------------------------------------------------------------------------------------------------------
// The parts of an OpenAPI 3 document the fuzz reads.

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  nullable?: boolean;
  oneOf?: Schema[];
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
}

interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

interface ApiOperation {
  method: string;
  path: string;
  name: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  body?: Schema;
}

// ---------------------------------------------------------------------------------------------------------
// Raw HTTP: odd paths ('..', '%00', '%zz') and bodies reach the server exactly as generated.

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface Sent {
  method: string;
  url: string;
  /** The body's bytes as sent (JSON text or not), or undefined for none. */
  body?: string;
  contentType?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 2 });

function send(baseUrl: string, token: string, req: Sent): Promise<Answer> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (req.body !== undefined) {
    headers['content-type'] = req.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(req.body));
  }
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: url.hostname, port: url.port, method: req.method, path: req.url, headers, agent },
      (res) => {
        // A stream (GET /api/tasks/{id}/output) is judged by its status and headers; it is not read to its end.
        if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    r.setTimeout(15_000, () => r.destroy(new Error(`no answer within 15 s`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/**
 * Percent-encodes like encodeURIComponent, but a lone surrogate (which has no UTF-8 form) becomes the three
 * bytes it would take (WTF-8): the server gets invalid UTF-8 in its URL, as a hostile client can send it.
 */
function encode(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((b) => '%' + b.toString(16).toUpperCase())
        .join('');
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `answer` breaks the contract, or null: never a 5xx, and every non-2xx with the standard error body. */
function contractProblem(answer: Answer): string | null {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.body.slice(0, 500)}`;
  if (answer.status >= 200 && answer.status < 300) return null;
  const body = parseJson(answer.body);
  if (!isRecord(body))
    return `answered ${answer.status} without a JSON error body: ${JSON.stringify(answer.body.slice(0, 300))}`;
  const problems: string[] = [];
  if (body.statusCode !== answer.status)
    problems.push(`statusCode ${JSON.stringify(body.statusCode)} is not the status`);
  for (const key of ['error', 'code', 'message', 'requestId'] as const) {
    if (typeof body[key] !== 'string') problems.push(`${key} is not a string`);
  }
  const header = answer.headers['x-request-id'];
  if (typeof body.requestId === 'string' && body.requestId !== header)
    problems.push(`requestId is not the X-Request-Id header (${String(header)})`);
  return problems.length
    ? `answered ${answer.status} with a malformed error body (${problems.join(', ')}): ${answer.body.slice(0, 300)}`
    : null;
}

// ---------------------------------------------------------------------------------------------------------
// Values.

/**
 * Ids of rows that exist, by the path segment that names their collection (`users`, `rules`, `deliveries`...),
 * and under `pairs:<collection>` the `parent/child` ids of rows that live under another (`rules` of a source).
 */
type Pools = Map<string, string[]>;

function pick(pools: Pools, kind: string, index: number): string {
  const ids = pools.get(kind) ?? [];
  return ids.length ? ids[index % ids.length] : ZERO_UUID;
}

/** An id of an existing row of `kind`, read when the value is generated (the pools change during the run). */
const existingId = (pools: Pools, kind: string): fc.Arbitrary<string> =>
  fc.nat({ max: 10_000 }).map((i) => pick(pools, kind, i));

const LONE_SURROGATES = ['\ud800', 'a\udfffb', '\udc00\ud800'];

/** Strings that have broken parsers, drivers and databases before. */
const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '..',
    '../../etc/passwd',
    '%00',
    '%zz',
    '\\',
    "'; DROP TABLE users; --",
    '\u202e\u0041',
    '😀'.repeat(3),
    'ü',
    'null',
    'undefined',
    'NaN',
    '-1',
    '1e400',
    '{{body}}',
    '{{',
    '}}',
    '__proto__',
    'constructor',
    '\r\nX-Injected: yes',
    '*',
    '$1',
    '${HOME}',
    ...LONE_SURROGATES,
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer({ min: 1_000, max: 200_000 }).map((n) => 'x'.repeat(n)),
);

/** A value of any JSON type, odd numbers and deep nesting included (the API refuses nesting past 32 levels). */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    -0,
    1e308,
    -1e308,
    2 ** 53 + 1,
    Number.MAX_SAFE_INTEGER,
    [],
    {},
    [null],
    { a: 1 },
    '',
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  nastyString,
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 20, max: 45 }).map((depth) => nest(depth, 'deep')),
);

function nest(depth: number, leaf: unknown): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

const validDate: fc.Arbitrary<string> = fc.oneof(
  fc
    .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.integer({ min: -48, max: 1 }).map((hours) => new Date(Date.now() + hours * 3_600_000).toISOString()),
  fc.constantFrom(
    '2026-11-23T00:00:00Z',
    '2026-11-23',
    '2026-11-23T10:00',
    '2026-11-23T10:00:00+05:30',
    '2026-11-23T10:00:00.123456Z',
    '0001-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
  ),
);
const oddDate: fc.Arbitrary<string> = fc.constantFrom(
  '2026-02-30T00:00:00Z',
  '2026-04-31T12:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-00-10T00:00:00Z',
  '2026-11-23T24:00:00Z',
  '2026-11-23T23:59:60Z',
  '0000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '+010000-01-01T00:00:00Z',
  '2026-11-23T00:00:00+99:99',
  '2026-11-23T00:00:00.123456789Z',
  '2026-W48-1',
  '2026-327',
  '20261123T000000Z',
  '2026-11-23T',
  '2026-11-23Tgarbage',
  '2026-99-99T00:00:00Z',
  '1',
  'yesterday',
  'now',
  '9999-12-31T23:59:59-10:00',
  '0001-01-01T00:00:00+10:00',
);

/** A valid value for a field, and odd ones that look like it. */
interface Hint {
  valid: fc.Arbitrary<unknown>;
  odd: fc.Arbitrary<unknown>;
}

/** A list cursor: a real one of the run, or a crafted base64url JSON position that the decoder may accept. */
const cursorHint = (cursors: string[]): Hint => ({
  valid: fc.nat({ max: 1000 }).map((i) => (cursors.length ? cursors[i % cursors.length] : 'x')),
  odd: fc.oneof(
    fc
      .tuple(
        fc.oneof(
          validDate,
          oddDate,
          fc.constantFrom('2026', '0', 'Tue, 01 Dec 2026 00:00:00 GMT', '12/31/2026', '275760-09-13'),
        ),
        fc.oneof(fc.uuid(), fc.constantFrom(ZERO_UUID, 'x')),
      )
      .map(([t, id]) => Buffer.from(JSON.stringify({ t, id })).toString('base64url')),
    fc.constantFrom('', 'x', '%%%', 'eyJ0IjoxfQ', 'bnVsbA', 'W10'),
    fc.string({ maxLength: 40 }),
  ),
});

/** A path parameter: an existing row, a random uuid, or garbage (sent raw: '..', '%00' and '%zz' stay as they are). */
const pathValue = (pools: Pools, kind: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: existingId(pools, kind) },
    { weight: 1, arbitrary: fc.uuid() },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constantFrom(
          '..',
          '.',
          '%00',
          'a%00b',
          '%zz',
          '%',
          '%2e%2e',
          '%2F',
          'a%2Fb',
          '%C0%AF',
          '%FF',
          '%20',
          '%0d%0aX-Injected:%20yes',
          'null',
          '-1',
          '0',
          '1e400',
          ZERO_UUID,
          'ffffffff-ffff-ffff-ffff-ffffffffffff',
          'logs',
          'recent',
          '%7B' + ZERO_UUID + '%7D',
          'x'.repeat(3000),
          'x'.repeat(20_000),
        ),
        fc.uuid().map((u) => u.toUpperCase()),
        fc.uuid().map((u) => u.replace(/-/g, '')),
        fc.uuid().map((u) => u + 'x'),
        fc.uuid().map((u) => u.slice(0, 35)),
        existingId(pools, kind).map((u) => encode(u + '\u0000')),
        existingId(pools, kind).map((u) => u.toUpperCase()),
        fc.string({ unit: 'grapheme', maxLength: 40 }).map(encode),
        fc.string({ unit: 'binary', maxLength: 40 }).map(encode),
      ),
    },
  );

// Domain hints: valid values for fields whose declared type says little ("an object", "a string").

const validTemplate = fc.constantFrom(
  '{{body.ref}}',
  '{{body.n}}',
  '{{event}}',
  '{{headers.x-github-event}}',
  '{{query.x}}',
  'plain',
  '--flag',
  'a{{body.n}}b',
);
const oddTemplate = fc.constantFrom(
  '{{body.args}}',
  '{{body}}',
  '{{',
  '}}',
  '{{ }}',
  '{{body.__proto__}}',
  '{{body.constructor.name}}',
  '-rf',
  '--exec={{body.x}}',
  '{{body.' + 'a.'.repeat(100) + 'a}}',
);
const validPattern = fc.constantFrom('^refs/heads/[a-z]+$', '^[0-9]+$', '^-{1,2}[a-z]+$', '.*', '\\p{L}+');
const oddPattern = fc.constantFrom(
  '(',
  '(a+)+$',
  '\\',
  '[z-a]',
  '(?<n>a)\\k<n>',
  '(?=x)',
  'a{99999}',
  '',
  '(?i)x',
  '\\1',
);
const templateInput: Hint = {
  valid: fc.oneof(
    validTemplate,
    fc.record({ template: validTemplate, pattern: validPattern }, { requiredKeys: ['template'] }),
  ),
  odd: fc.oneof(
    oddTemplate,
    fc.record({ template: fc.oneof(validTemplate, oddTemplate), pattern: oddPattern }, { requiredKeys: [] }),
    wrongValue,
  ),
};

const condition = (odd: boolean): fc.Arbitrary<unknown> => {
  const leaf = fc
    .record({
      path: odd
        ? fc.constantFrom('', 'body..x', 'body.__proto__', 'body.constructor', '.', 'x'.repeat(2000))
        : fc.constantFrom('event', 'body.ref', 'body.a.b', 'headers.x-github-event', 'query.x', 'type', 'data.status'),
      op: odd
        ? fc.constantFrom('eq', 'regex', 'in', 'gt', 'bogus', '__proto__')
        : fc.constantFrom('eq', 'neq', 'in', 'exists', 'prefix', 'suffix', 'glob', 'regex', 'gt', 'lt'),
      value: odd
        ? fc.oneof(oddPattern, wrongValue)
        : fc.oneof(
            fc.string({ maxLength: 10 }),
            fc.integer(),
            fc.boolean(),
            validPattern,
            fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
          ),
    })
    .map(({ path, op, value }) => ({ path, [op]: op === 'exists' ? true : value }));
  return fc.letrec<{ c: unknown }>((tie) => ({
    c: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.record({ and: fc.array(tie('c'), { maxLength: 3 }) }),
      fc.record({ or: fc.array(tie('c'), { maxLength: 3 }) }),
      fc.record({ not: tie('c') }),
      ...(odd
        ? [wrongValue, fc.constant({ and: 'x' }), fc.constant({ path: 'a' }), fc.constant({ and: [], or: [] })]
        : []),
    ),
  })).c;
};

const jsonSchemaHint: Hint = {
  valid: fc.constantFrom(
    { type: 'object' },
    { type: 'object', properties: { status: { type: 'string', enum: ['up', 'down'] } }, required: ['status'] },
    { type: 'object', properties: { n: { type: 'integer', minimum: 0 }, s: { type: 'string', pattern: '^[a-z]+$' } } },
    { type: 'object', additionalProperties: false },
  ),
  odd: fc.oneof(
    fc.constantFrom(
      { type: 'object', properties: { s: { type: 'string', pattern: '(a+)+$' } } },
      { type: 'object', properties: { s: { type: 'string', pattern: '(' } } },
      { type: 'no-such-type' },
      { $ref: '#/definitions/nope' },
      { $ref: 'http://127.0.0.1:9/schema.json' },
      { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' },
      { $schema: 'https://example.com/unknown-meta-schema' },
      { $id: 'x', $defs: { a: { $ref: '#/$defs/a' } }, $ref: '#/$defs/a' },
      { $async: true, type: 'object' },
      { type: 'object', minProperties: -1 },
      { anyOf: [] },
      { type: 'string' },
      {},
    ),
    fc.jsonValue({ maxDepth: 3 }),
  ),
};

const headerHint: Hint = {
  valid: fc.dictionary(
    fc.constantFrom('X-Ok', 'X-Team', 'Authorization', 'X-Api-Version'),
    fc.string({ minLength: 1, maxLength: 20 }).map((v) => v.replace(/[^\x21-\x7e]/g, 'v')),
    { maxKeys: 3 },
  ),
  odd: fc.dictionary(
    fc.oneof(
      fc.constantFrom(
        'content-type',
        'Content-Length',
        'Host',
        'Transfer-Encoding',
        'webhook-signature',
        'X-Bad Header',
        'x\u0000y',
        'ü',
        '',
        'X-Hookhub-Event',
      ),
      fc.string({ maxLength: 12 }),
    ),
    fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('v\r\nX-Injected: yes', 'ü', 'a\u0000b', '', 'x'.repeat(20_000)),
      fc.constant(null),
      wrongValue,
    ),
    { minKeys: 1, maxKeys: 4 },
  ),
};

const ENTITY_OF_FIELD: Record<string, string> = {
  program_id: 'programs',
  by_id_programs: 'programs',
  source_id: 'sources',
  receipt_id: 'receipts',
  actor_id: 'users',
  delivery_id: 'deliveries',
  target_id: 'users',
};

const eventName: Hint = {
  valid: fc.oneof(
    fc.constantFrom('fuzz.thing', 'fuzz.other', 'task.succeeded', 'webhook.test', 'push'),
    fc.stringMatching(/^[a-z]{1,8}(\.[a-z0-9_-]{1,8}){0,3}$/),
  ),
  odd: fc.constantFrom('a..b', '', '.x', 'x.', '*', 'fuzz.*', 'ü.x', 'x'.repeat(201)),
};

/** Valid and odd values for a field of this name (`owner`: the schema it is in), when the name says more than the schema. */
function hintFor(name: string, owner: string, pools: Pools, cursors: string[]): Hint | undefined {
  const constant = (valid: unknown[], odd: unknown[]): Hint => ({
    valid: fc.constantFrom(...valid),
    odd: fc.constantFrom(...odd),
  });
  switch (name) {
    case 'url':
      return {
        valid: fc.oneof(
          fc.constant(DEAD_URL),
          fc.webPath().map((p) => `http://127.0.0.1:9${p.startsWith('/') ? p : '/' + p}`),
        ),
        odd: fc.constantFrom(
          'http://localhost:9/x',
          'http://10.0.0.1/x',
          'http://169.254.169.254/latest',
          'http://[::1]:9/',
          'http://[::ffff:127.0.0.1]:9/',
          'http://0x7f.1:9/',
          'http://2130706433:9/',
          'ftp://127.0.0.1/x',
          'file:///etc/passwd',
          'javascript:alert(1)',
          'http://',
          'http://127.0.0.1:99999/',
          'http://user:pass@127.0.0.1:9/',
          'not a url',
          '',
        ),
      };
    case 'command':
      return {
        valid: fc.constantFrom('sync.sh', 'deploy.sh', 'fail.sh', 'backup.sh').map(program),
        odd: fc.constantFrom(
          '/bin/sh',
          'sync.sh',
          `${PROGRAMS_DIR}/../programs/sync.sh`,
          `${PROGRAMS_DIR}/nope.sh`,
          PROGRAMS_DIR,
          `${PROGRAMS_DIR}/`,
          '/etc/passwd',
          '',
          `${PROGRAMS_DIR}/sync.sh\u0000x`,
        ),
      };
    case 'header':
    case 'header_prefix':
    case 'event_header':
    case 'dedup_header':
      return {
        valid: fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/),
        odd: fc.constantFrom(
          'Bad Header',
          '',
          'x'.repeat(101),
          'Content-Length',
          'Host',
          'Transfer-Encoding',
          'ü',
          'X-A\r\nX-B',
          'X-Hookhub-Event',
        ),
      };
    case 'dedup_field':
    case 'event_field':
      return constant(
        ['body.id', 'body.type', 'body.a.b', 'body.items.0'],
        ['id', 'body.', 'body..x', 'body.__proto__', 'headers.x', 'body.' + 'a.'.repeat(200) + 'a'],
      );
    case 'cwd':
      return constant(['/tmp', PROGRAMS_DIR], ['/nonexistent/dir', 'relative', '', '/etc/passwd', '/', '..']);
    case 'condition':
    case 'payload_filter':
      return { valid: condition(false), odd: condition(true) };
    case 'schema':
      return jsonSchemaHint;
    case 'args':
      return {
        valid: fc.array(templateInput.valid, { maxLength: 4 }),
        odd: fc.array(fc.oneof(templateInput.valid, templateInput.odd), { minLength: 1, maxLength: 5 }),
      };
    case 'env':
      return {
        valid: fc.dictionary(
          fc.constantFrom('GIT_REF', 'DEPLOY_TARGET', 'A'),
          owner.includes('Rule') ? templateInput.valid : fc.string({ maxLength: 20 }),
          { maxKeys: 3 },
        ),
        odd: fc.dictionary(
          fc.oneof(fc.constantFrom('PATH', 'LD_PRELOAD', '1X', 'A=B', '', 'ü'), fc.string({ maxLength: 10 })),
          fc.oneof(templateInput.valid, templateInput.odd),
          { minKeys: 1, maxKeys: 4 },
        ),
      };
    case 'env_allow':
      return {
        valid: fc.array(fc.constantFrom('GIT_REF', 'DEPLOY_TARGET', 'A', 'HOME'), { maxLength: 3 }),
        odd: fc.array(fc.constantFrom('PATH', 'LD_PRELOAD', 'NODE_OPTIONS', '1X', ''), { minLength: 1, maxLength: 3 }),
      };
    case 'headers':
    case 'query':
      return headerHint;
    case 'concurrency_key':
      return { valid: fc.oneof(validTemplate, fc.constant(null)), odd: oddTemplate };
    case 'from':
    case 'to':
    case 'occurred_at':
      return { valid: validDate, odd: oddDate };
    case 'cursor':
      return cursorHint(cursors);
    case 'ip_allow':
      return {
        valid: fc.array(
          fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('10.0.0.0/8', '127.0.0.1/32', '::1', '2001:db8::/32')),
          { maxLength: 3 },
        ),
        odd: fc.array(
          fc.constantFrom(
            '1.2.3.4/33',
            '::1/129',
            '0.0.0.0/0',
            '::/0',
            'abc',
            '1.2.3.4/-1',
            '::ffff:1.2.3.4/128',
            '1.2.3',
            '',
            '010.0.0.1',
            '1.2.3.4/08',
          ),
          { minLength: 1, maxLength: 3 },
        ),
      };
    case 'events':
      return {
        valid: fc.array(fc.oneof(eventName.valid, fc.constantFrom('*', 'fuzz.*')), { minLength: 1, maxLength: 3 }),
        odd: fc.array(fc.oneof(eventName.odd, fc.constantFrom('**', '.*', 'a.*.b')), { minLength: 1, maxLength: 3 }),
      };
    case 'type':
    case 'event_type':
    case 'event':
      return eventName;
    case 'name':
      return owner.includes('EventType') ? eventName : undefined;
    case 'password':
    case 'current_password':
    case 'new_password':
      return {
        valid: fc.oneof(fc.constant(ADMIN_PASSWORD), fc.string({ minLength: 8, maxLength: 20 })),
        odd: fc.oneof(fc.string({ maxLength: 7 }), fc.constant('x'.repeat(257))),
      };
    case 'username':
      return {
        valid: fc.oneof(fc.constant('admin'), fc.stringMatching(/^[a-z0-9][a-z0-9._@-]{1,20}$/)),
        odd: fc.constantFrom('ADMIN', 'a', 'x'.repeat(65), ' admin', 'admin\u0000', 'ädmin'),
      };
    case 'secret':
      return {
        valid: fc.oneof(
          fc.string({ minLength: 16, maxLength: 40 }),
          fc.base64String({ minLength: 44, maxLength: 44 }).map((b) => `whsec_${b}`),
        ),
        odd: fc.string({ maxLength: 15 }),
      };
    case 'secrets':
      return {
        valid: fc.constantFrom(
          ['user:fuzz-password'],
          ['fuzz-secret-1', 'fuzz-secret-2'],
          ['whsec_' + Buffer.from('k'.repeat(32)).toString('base64')],
        ),
        odd: fc.constantFrom([], [''], ['nocolon'], ['whsec_!!'], Array(6).fill('s')),
      };
    case 'data':
    case 'payload':
    case 'body':
      return {
        valid: fc.oneof(
          fc.record({ n: fc.nat(), run: fc.boolean() }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => (isRecord(v) ? v : { value: v })),
        ),
        odd: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), wrongValue, { minKeys: 1, maxKeys: 3 }), wrongValue),
      };
    default: {
      const kind = ENTITY_OF_FIELD[name];
      if (!kind) return undefined;
      const id = fc.oneof({ weight: 3, arbitrary: existingId(pools, kind) }, { weight: 1, arbitrary: fc.uuid() });
      const odd = fc.constantFrom('', 'x', ZERO_UUID.slice(1), ZERO_UUID.toUpperCase() + 'x');
      return name === 'by_id_programs'
        ? { valid: fc.array(id, { maxLength: 3 }), odd: fc.array(fc.oneof(id, odd), { minLength: 1, maxLength: 3 }) }
        : { valid: id, odd };
    }
  }
}

/** How values are drawn: only valid ones, or valid with now and then an odd one. */
type Mode = 'strict' | 'loose';

/** Generates values of OpenAPI schemas, resolving $ref into components.schemas. */
class SchemaValues {
  constructor(
    private readonly doc: OpenApiDocument,
    private readonly pools: Pools,
    private readonly cursors: string[],
  ) {}

  resolve(schema: Schema): { schema: Schema; name: string } {
    let name = '';
    for (let s = schema, hops = 0; hops < 10; hops++) {
      if (!s.$ref) return { schema: s, name };
      name = s.$ref.replace('#/components/schemas/', '');
      const target = this.doc.components?.schemas?.[name];
      if (!target) throw new Error(`unresolved $ref ${s.$ref}`);
      s = target;
    }
    throw new Error(`$ref loop at ${schema.$ref}`);
  }

  /** A value of the schema's shape, with values typical of the field's name. */
  value(raw: Schema, mode: Mode, name = '', owner = ''): fc.Arbitrary<unknown> {
    const { schema, name: refName } = this.resolve(raw);
    const hint = hintFor(name, owner, this.pools, this.cursors);
    let base = hint?.valid ?? this.plain(schema, mode, refName || owner);
    if (mode === 'loose')
      base = fc.oneof({ weight: 5, arbitrary: base }, { weight: 1, arbitrary: hint?.odd ?? wrongValue });
    return schema.nullable
      ? fc.oneof({ weight: 6, arbitrary: base }, { weight: 1, arbitrary: fc.constant(null) })
      : base;
  }

  /** A value for a field without a hint, from its schema alone. */
  private plain(schema: Schema, mode: Mode, owner: string): fc.Arbitrary<unknown> {
    if (schema.oneOf?.length) return fc.oneof(...schema.oneOf.map((s) => this.value(s, mode, '', owner)));
    if (schema.enum?.length) return fc.constantFrom(...schema.enum);
    switch (schema.type) {
      case 'string':
        return this.string(schema);
      case 'integer':
      case 'number': {
        const min = schema.minimum ?? -1_000_000;
        const max = schema.maximum ?? 1_000_000;
        return fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: Math.ceil(min), max: Math.floor(max) }) },
          { weight: 1, arbitrary: fc.constantFrom(min, max) },
        );
      }
      case 'boolean':
        return fc.boolean();
      case 'array':
        return fc.array(schema.items ? this.value(schema.items, mode, '', owner) : fc.jsonValue({ maxDepth: 1 }), {
          minLength: schema.minItems ?? 0,
          maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 4, 4)),
        });
      case 'object':
      case undefined:
        return this.object(schema, mode, owner);
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  private string(schema: Schema): fc.Arbitrary<string> {
    if (schema.format === 'uuid') return fc.uuid();
    if (schema.pattern) {
      const maxLength = schema.maxLength ?? 64;
      return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= maxLength);
    }
    const maxLength = Math.min(schema.maxLength ?? 40, 40);
    const minLength = Math.min(schema.minLength ?? 0, maxLength);
    return fc.oneof(
      { weight: 3, arbitrary: fc.string({ minLength, maxLength }) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength, maxLength }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(...[schema.minLength ?? 0, schema.maxLength ?? 100].map((n) => 'a'.repeat(n))),
      },
    );
  }

  /** An object of the schema: its required fields and some of the others (`required` only: just the required ones). */
  object(schema: Schema, mode: Mode, owner: string, only?: 'required'): fc.Arbitrary<Record<string, unknown>> {
    const props = schema.properties ?? {};
    const required = (schema.required ?? []).filter((k) => k in props);
    if (Object.keys(props).length) {
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, child] of Object.entries(props))
        if (!only || required.includes(key)) model[key] = this.value(child, mode, key, owner);
      return fc.record(model, { requiredKeys: required });
    }
    const extra = schema.additionalProperties;
    if (typeof extra === 'object')
      return fc.dictionary(fc.string({ maxLength: 10 }), this.value(extra, mode, '', owner), { maxKeys: 3 });
    return fc.jsonValue({ maxDepth: 2 }).map((v) => (isRecord(v) ? v : { value: v }));
  }

  /** Bodies for an operation that declares `schema`: valid-shaped, mutated and hostile. */
  body(raw: Schema): fc.Arbitrary<BodyValue> {
    const { schema, name } = this.resolve(raw);
    const valid = this.object(schema, 'strict', name);
    const keys = Object.keys(schema.properties ?? {});
    const keyOf = keys.length
      ? fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...keys) },
          { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
        )
      : fc.string({ maxLength: 10 });
    const oddOf = (key: string): fc.Arbitrary<unknown> => {
      const hint = hintFor(key, name, this.pools, this.cursors);
      // null on its own: IsOptional lets it through unchecked, and it once reached NOT NULL columns (500s).
      return fc.oneof(
        { weight: 2, arbitrary: fc.constant(null) },
        { weight: 3, arbitrary: hint?.odd ?? wrongValue },
        { weight: 3, arbitrary: wrongValue },
      );
    };
    return fc.oneof(
      { weight: 5, arbitrary: valid.map(json) },
      { weight: 3, arbitrary: this.object(schema, 'strict', name, 'required').map(json) },
      { weight: 3, arbitrary: this.object(schema, 'loose', name).map(json) },
      // One field (declared or not) with a wrong value.
      {
        weight: 5,
        arbitrary: fc.tuple(valid, keyOf).chain(([v, k]) => oddOf(k).map((bad) => json({ ...v, [k]: bad }))),
      },
      // A value deep inside (a condition's operand, an argument, a header value) replaced by an odd one.
      {
        weight: 3,
        arbitrary: fc
          .tuple(valid, fc.nat(), fc.oneof(fc.constantFrom(...LONE_SURROGATES, '\u0000', ''), wrongValue))
          .map(([v, i, bad]) => json(replaceLeaf(v, i, bad))),
      },
      // Required fields missing.
      {
        weight: 1,
        arbitrary: fc
          .tuple(valid, fc.subarray(schema.required ?? [], { minLength: Math.min(1, schema.required?.length ?? 0) }))
          .map(([v, drop]) => json(Object.fromEntries(Object.entries(v).filter(([k]) => !drop.includes(k))))),
      },
      // Fields no DTO declares.
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            valid,
            fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 3 }),
          )
          .map(([v, e]) => json({ ...e, ...v, ...e })),
      },
      { weight: 3, arbitrary: hostileBody(valid) },
    );
  }

  /** A query parameter's value: declared, or odd (wrong type, empty, huge, NUL...), or repeated. */
  query(param: Parameter, mode: Mode): fc.Arbitrary<string[]> {
    const asText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
    const declared = this.value(param.schema ?? { type: 'string' }, 'strict', param.name).map(asText);
    if (mode === 'strict') return declared.map((v) => [v]);
    const hint = hintFor(param.name, '', this.pools, this.cursors);
    const odd = fc.oneof(
      fc.constantFrom(
        '',
        'abc',
        '-1',
        '0',
        '1.5',
        '1e400',
        '99999999999999999999999',
        '-99999999999999999999',
        'NaN',
        'Infinity',
        'true',
        'false',
        'null',
        '[]',
        '{}',
        '\u0000',
        'ü',
        '😀',
        '%',
        ' ',
        ZERO_UUID,
        'x'.repeat(5000),
      ),
      nastyString.filter((v) => v.length < 8000),
      ...(hint ? [hint.odd.map(asText)] : []),
    );
    return fc.oneof(
      { weight: 3, arbitrary: odd.map((v) => [v]) },
      { weight: 1, arbitrary: fc.array(fc.oneof(declared, odd), { minLength: 2, maxLength: 3 }) },
    );
  }
}

/** `value` with its `index`-th leaf (modulo their number; strings, numbers, booleans, nulls) replaced by `by`. */
function replaceLeaf(value: Record<string, unknown>, index: number, by: unknown): Record<string, unknown> {
  const leaves: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const copy = structuredClone(value);
  const walk = (node: unknown) => {
    const children: Array<[string | number, unknown]> = Array.isArray(node)
      ? node.map((child, i) => [i, child])
      : isRecord(node)
        ? Object.entries(node)
        : [];
    for (const [key, child] of children) {
      if (child !== null && typeof child === 'object') walk(child);
      else leaves.push({ parent: node as Record<string, unknown> | unknown[], key });
    }
  };
  walk(copy);
  if (!leaves.length) return { ...copy, value: by };
  const { parent, key } = leaves[index % leaves.length];
  (parent as Record<string | number, unknown>)[key] = by;
  return copy;
}

/** A body as it is sent: JSON text (or not), with its content type. */
interface BodyValue {
  text?: string;
  contentType?: string;
}

const json = (value: unknown): BodyValue => ({ text: JSON.stringify(value) });

/** Whole bodies that are not what any endpoint expects. */
function hostileBody(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<BodyValue> {
  return fc.oneof(
    fc.constant<BodyValue>({}),
    fc.constantFrom<BodyValue>(
      { text: 'null' },
      { text: '[]' },
      { text: '"x"' },
      { text: '42' },
      { text: 'true' },
      { text: '' },
      { text: '{' },
      { text: '{"a":' },
      { text: 'NaN' },
      { text: '{"a":1}garbage' },
      { text: '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}' },
      { text: '{"limit":1e400,"name":1e400}' },
      { text: '{"a":1,"a":2}' },
      { text: '\ufeff{}' },
      { text: '{}', contentType: 'text/plain' },
      { text: 'a=1', contentType: 'application/x-www-form-urlencoded' },
      { text: '{}', contentType: 'application/json; charset=latin1' },
      { text: '{}', contentType: 'application/vnd.api+json' },
      { text: '{}', contentType: ';;;' },
    ),
    valid.map((v) => ({ text: JSON.stringify([v]) })),
    fc.integer({ min: 20, max: 60 }).map((depth) => json(nest(depth, 'deep'))),
    fc.integer({ min: 1000, max: 5000 }).map((n) => ({ text: '['.repeat(n) + ']'.repeat(n) })),
    fc
      .tuple(valid, fc.constantFrom(...LONE_SURROGATES, '\u0000'))
      .map(([v, bad]) => json(Object.fromEntries(Object.keys(v).map((k) => [k, bad])))),
    // Just under and just over the admin API's body limit (1 MiB by default).
    fc.constantFrom(900_000, 1_100_000).map((n) => json({ name: 'x'.repeat(n) })),
  );
}

// ---------------------------------------------------------------------------------------------------------
// The operations and their requests.

function operationsOf(doc: OpenApiDocument): ApiOperation[] {
  const out: ApiOperation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/')) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const params = op.parameters ?? [];
      out.push({
        method: method.toUpperCase(),
        path,
        name: `${method.toUpperCase()} ${path}`,
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        body: op.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return out;
}

/** The collection a path parameter names: the segment before it (`/api/sources/{id}/rules/{ruleId}`: sources, rules). */
function kindOf(path: string, param: string): string {
  const segments = path.split('/');
  return segments[segments.indexOf(`{${param}}`) - 1];
}

const RAW_QUERY_EXTRAS = [
  '',
  'unknown=1',
  'limit=%00',
  'cursor=%zz',
  'a[b]=1',
  '&&',
  '=',
  '=x',
  'limit',
  '__proto__=1',
  'constructor[prototype]=1',
];

function requestFor(op: ApiOperation, values: SchemaValues, pools: Pools): fc.Arbitrary<Sent> {
  const independent = fc.tuple(...op.pathParams.map((p) => pathValue(pools, kindOf(op.path, p.name))));
  // Two ids (a rule of a source, a delivery of a webhook): often a pair that belongs together.
  const pathParts =
    op.pathParams.length === 2
      ? fc.oneof(
          independent,
          fc.nat({ max: 10_000 }).map((i) => {
            const pair = pick(pools, `pairs:${kindOf(op.path, op.pathParams[1].name)}`, i).split('/');
            return pair.length === 2 ? pair : [ZERO_UUID, ZERO_UUID];
          }),
        )
      : independent;
  // Mostly valid queries (some of the declared parameters), else one odd parameter among valid ones, or odd throughout.
  const queryIn = (oddOne: number | undefined, mode: Mode) =>
    fc.tuple(
      ...op.queryParams.map((p, j) =>
        j === oddOne ? values.query(p, 'loose') : fc.option(values.query(p, mode), { nil: undefined, freq: 2 }),
      ),
    );
  const query = op.queryParams.length
    ? fc.oneof(
        { weight: 4, arbitrary: queryIn(undefined, 'strict') },
        { weight: 3, arbitrary: fc.nat({ max: op.queryParams.length - 1 }).chain((j) => queryIn(j, 'strict')) },
        { weight: 1, arbitrary: queryIn(undefined, 'loose') },
      )
    : fc.constant<Array<string[] | undefined>>([]);
  const extra = fc.oneof(
    { weight: 8, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_QUERY_EXTRAS) },
  );
  const body: fc.Arbitrary<BodyValue> = op.body
    ? values.body(op.body)
    : fc.oneof(
        { weight: 8, arbitrary: fc.constant<BodyValue>({}) },
        { weight: 1, arbitrary: fc.constantFrom<BodyValue>({ text: '{}' }, { text: '{"x":1}' }, { text: 'null' }) },
      );
  return fc.tuple(pathParts, query, extra, body).map(([parts, queryValues, rawExtra, b]) => {
    let i = 0;
    const path = op.path.replace(/\{[^}]+\}/g, () => parts[i++]);
    const pairs: string[] = [];
    op.queryParams.forEach((p, j) => {
      for (const v of queryValues[j] ?? []) pairs.push(`${encode(p.name)}=${encode(v)}`);
    });
    if (rawExtra) pairs.push(rawExtra);
    // GET requests carry no body (some clients cannot send one; Fastify ignores it).
    const sendBody = op.method !== 'GET' && b.text !== undefined;
    return {
      method: op.method,
      url: pairs.length ? `${path}?${pairs.join('&')}` : path,
      body: sendBody ? b.text : undefined,
      contentType: sendBody ? b.contentType : undefined,
    };
  });
}

function describeSent(req: Sent): string {
  const body =
    req.body === undefined
      ? ''
      : ` ${req.contentType ?? 'application/json'} ${req.body.length > 300 ? `${JSON.stringify(req.body.slice(0, 300))}... (${req.body.length} chars)` : JSON.stringify(req.body)}`;
  const url = req.url.length > 400 ? `${req.url.slice(0, 400)}... (${req.url.length} chars)` : req.url;
  return `${req.method} ${url}${body}`;
}

// ---------------------------------------------------------------------------------------------------------

describe('admin API fuzz', () => {
  let t: TestApp;
  let token: string;
  let rescuer: string;
  let adminId: string;
  let operations: ApiOperation[];
  let values: SchemaValues;
  const pools: Pools = new Map();
  const cursors: string[] = [];
  const statuses = new Map<string, Map<number, number>>();
  const messages = new Set<string>();

  const api = async <T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    as = token,
  ): Promise<T> => {
    const res = await t.request<T>({ method, url, body, token: as });
    if (res.statusCode >= 300) throw new Error(`${method} ${url} gave ${res.statusCode}: ${res.body}`);
    return res.json;
  };
  const add = (kind: string, id: string) => {
    const ids = pools.get(kind) ?? [];
    if (!ids.includes(id)) ids.push(id);
    // A bounded pool: the rows made in setup stay, the newest of the fuzz's own replace each other.
    if (ids.length > 12) ids.splice(6, 1);
    pools.set(kind, ids);
  };

  /** Makes one row of `kind` (and what it needs) through the API, as setup and after the fuzz deleted the last one. */
  const makers: Record<string, () => Promise<void>> = {
    programs: async () =>
      add(
        'programs',
        (
          await create(t, token, '/api/programs', {
            name: `sync-${pools.get('programs')?.length ?? 0}-${Date.now()}`,
            command: program('sync.sh'),
            manual_run: true,
            args: ['{{body.n}}'],
          })
        ).id,
      ),
    sources: async () => {
      const slug = `fuzz-${Date.now().toString(36)}-${pools.get('sources')?.length ?? 0}`;
      add(
        'sources',
        (
          await create(t, token, '/api/sources', {
            slug,
            scheme: 'token',
            secrets: ['fuzz-token-secret'],
            rate_limit: 1_000_000,
          })
        ).id,
      );
    },
    rules: async () => {
      if (!pools.get('sources')?.length) await makers.sources();
      if (!pools.get('programs')?.length) await makers.programs();
      const source = pick(pools, 'sources', 0);
      const rule = await create(t, token, `/api/sources/${source}/rules`, {
        name: 'fuzz rule',
        program_id: pick(pools, 'programs', 0),
        condition: { path: 'body.run', eq: true },
      });
      add('rules', rule.id);
      add('pairs:rules', `${source}/${rule.id}`);
    },
    // One attempt only: its deliveries finish (failed) at once, so that they can be resent.
    webhooks: async () =>
      add(
        'webhooks',
        (await create(t, token, '/api/webhooks', { url: DEAD_URL, name: 'fuzz', events: ['*'], retry_enabled: false }))
          .id,
      ),
    'event-types': async () =>
      add(
        'event-types',
        (await create(t, token, '/api/event-types', { name: `fuzz.t${Date.now()}`, schema: { type: 'object' } })).id,
      ),
    events: async () =>
      add(
        'events',
        (await api<{ id: string }>('POST', '/api/events', { type: 'fuzz.thing', data: { status: 'up' } })).id,
      ),
    users: async () =>
      add(
        'users',
        (
          await create(t, token, '/api/users', {
            username: `fuzz-user-${Date.now()}`,
            password: 'user-password-1',
            role: 'viewer',
          })
        ).id,
      ),
    'api-keys': async () =>
      add('api-keys', (await create(t, token, '/api/api-keys', { name: 'fuzz key', scopes: ['events:publish'] })).id),
    tasks: async () => {
      if (!pools.get('programs')?.length) await makers.programs();
      add(
        'tasks',
        (await create(t, token, `/api/programs/${pick(pools, 'programs', 0)}/run`, { payload: { n: 1 } })).id,
      );
    },
    receipts: async () => {
      const { slug } = await api<{ slug: string }>('GET', `/api/sources/${pick(pools, 'sources', 0)}`);
      await t.request({
        method: 'POST',
        url: `/hooks/${slug}`,
        headers: { authorization: 'Bearer fuzz-token-secret' },
        body: { run: true, n: 2 },
      });
      await t.request({ method: 'POST', url: `/hooks/${slug}`, body: { unsigned: true } });
      for (const r of (await api<{ items: Array<{ id: string }> }>('GET', '/api/receipts?limit=5')).items)
        add('receipts', r.id);
    },
    deliveries: async () => {
      for (const w of pools.get('webhooks') ?? []) {
        const page = await t.request<{ items: Array<{ id: string }> }>({
          url: `/api/webhooks/${w}/deliveries?limit=5`,
          token,
        });
        for (const d of page.statusCode === 200 ? page.json.items : []) {
          add('deliveries', d.id);
          add('pairs:deliveries', `${w}/${d.id}`);
        }
      }
    },
  };

  beforeAll(async () => {
    t = await bootApp({
      HOOKHUB_PROGRAM_DIRS: PROGRAMS_DIR,
      HOOKHUB_OUTBOUND_ALLOW: '127.0.0.1/32',
      HOOKHUB_TASK_KILL_GRACE_MS: '500',
      HOOKHUB_LOG_LEVEL: process.env.FUZZ_LOG_LEVEL ?? 'silent',
    });
    token = await t.login();
    adminId = (await api<{ id: string }>('GET', '/api/auth/me')).id;
    // The second admin: never a target of the fuzz (its id is in no pool), it puts the first one back.
    await create(t, token, '/api/users', { username: 'fuzz-rescuer', password: 'rescuer-password-1', role: 'admin' });
    rescuer = await t.login('fuzz-rescuer', 'rescuer-password-1');
    add('users', adminId);

    for (const kind of [
      'programs',
      'programs',
      'sources',
      'sources',
      'rules',
      'webhooks',
      'event-types',
      'users',
      'api-keys',
      'tasks',
      'tasks',
    ])
      await makers[kind]();
    add(
      'event-types',
      (await api<{ items: Array<{ id: string; name: string }> }>('GET', '/api/event-types?q=task.succeeded')).items[0]
        .id,
    );
    for (let i = 0; i < 3; i++) await makers.events();
    await makers.receipts();
    await makers.deliveries();
    for (const url of ['/api/audit?limit=1', '/api/events?limit=1', '/api/users?limit=1']) {
      const next = (await api<{ next_cursor: string | null }>('GET', url)).next_cursor;
      if (next) cursors.push(next);
    }

    const doc = await t.request<OpenApiDocument>({ url: '/docs-json' });
    expect(doc.statusCode).toBe(200);
    // Deletions last, children before parents (a source's rules before sources), so that the other operations
    // find the rows of the setup, and each deletion finds some too.
    const order = (op: ApiOperation) => (op.method === 'DELETE' ? 1000 - op.path.split('/').length : 0);
    operations = operationsOf(doc.json).sort((a, b) => order(a) - order(b));
    values = new SchemaValues(doc.json, pools, cursors);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    agent.destroy();
    await t?.close();
  });

  /** After a change to users or passwords: if the session ended or lost its role, the rescuer restores the admin. */
  const keepSession = async () => {
    const me = await t.request<{ role?: string }>({ url: '/api/auth/me', token });
    if (me.statusCode === 200 && me.json.role === 'admin') return;
    await api('PATCH', `/api/users/${adminId}`, { role: 'admin', disabled: false }, rescuer);
    await api('PUT', `/api/users/${adminId}/password`, { password: ADMIN_PASSWORD }, rescuer);
    token = await t.login();
  };

  /** Keeps the pools current: rows the fuzz creates join them, rows it deletes leave them (and are made again). */
  const track = async (op: ApiOperation, req: Sent, answer: Answer) => {
    if (answer.status < 200 || answer.status >= 300) return;
    if (op.method !== 'GET' && (op.path.startsWith('/api/users') || op.path === '/api/auth/password'))
      await keepSession();
    const body = parseJson(answer.body);
    if (op.method === 'POST' && isRecord(body) && typeof body.id === 'string') {
      const created =
        op.path.endsWith('/run') || op.path.endsWith('/retry')
          ? 'tasks'
          : op.path
              .split('/')
              .filter((s) => s && !s.startsWith('{'))
              .pop();
      if (created && created in makers) add(created, body.id);
      // A rule made under a source: remember the pair.
      if (created === 'rules') add('pairs:rules', `${req.url.split('?')[0].split('/')[3]}/${body.id}`);
    }
    if (isRecord(body) && typeof body.next_cursor === 'string' && cursors.length < 20) cursors.push(body.next_cursor);
    if (op.method === 'DELETE' && op.pathParams.length) {
      const last = op.pathParams[op.pathParams.length - 1].name;
      const kind = kindOf(op.path, last);
      const id = req.url.split('?')[0].split('/').pop() ?? '';
      const ids = pools.get(kind) ?? [];
      // A revoked key stays a row (revoking twice is harmless); the others are gone.
      // (The id may have been sent in upper case, which the API accepts.)
      const at = ids.findIndex((known) => known.toLowerCase() === id.toLowerCase());
      if (kind !== 'api-keys' && at >= 0) ids.splice(at, 1);
      if (!ids.length && makers[kind]) await makers[kind]();
    }
  };

  // Found by the fuzz: a change sent to an upper-case id sealed the secrets under a context the row's id never
  // matched, and every later use of them failed with a 500.
  it('keeps secrets usable when a change names the row by its upper-case id', async () => {
    const prog = await create(t, token, '/api/programs', {
      name: 'upper-case-env',
      command: program('sync.sh'),
      manual_run: true,
      env: { A: 'before' },
    });
    const source = await create<{ id: string; slug: string }>(t, token, '/api/sources', {
      slug: 'upper-case',
      scheme: 'token',
      secrets: ['first-token'],
    });
    await create(t, token, `/api/sources/${source.id}/rules`, { name: 'all', program_id: prog.id });
    const hook = await create(t, token, '/api/webhooks', { url: DEAD_URL, events: ['*'], retry_enabled: false });

    await api('PATCH', `/api/programs/${prog.id.toUpperCase()}`, { env: { A: 'after' } });
    await api('PATCH', `/api/sources/${source.id.toUpperCase()}`, { secrets: ['second-token'] });
    await api('PATCH', `/api/webhooks/${hook.id.toUpperCase()}`, { headers: { 'X-Team': 'ops' } });
    await api('POST', `/api/webhooks/${hook.id.toUpperCase()}/secret/rotate`, {});

    expect(
      (await t.request({ method: 'POST', url: `/api/sources/${source.id}/rules/test`, token, body: {} })).statusCode,
    ).toBe(200);
    const trigger = await t.request<{ task_ids: string[] }>({
      method: 'POST',
      url: `/hooks/${source.slug}`,
      headers: { authorization: 'Bearer second-token' },
      body: {},
    });
    expect(trigger.statusCode).toBe(202);
    expect((await waitForTask(t, token, trigger.json.task_ids[0])).status).toBe('succeeded');
    // Signed with the rotated secret and sent with the header (to a closed port: the attempt fails, the test answers).
    const sent = await t.request<{ attempt: { error: string | null } }>({
      method: 'POST',
      url: `/api/webhooks/${hook.id.toUpperCase()}/test`,
      token,
    });
    expect(sent.statusCode).toBe(200);
    expect(sent.json.attempt.error ?? '').not.toMatch(/authenticate|sealed/i);
  });

  it(
    'answers every operation of /docs-json without a 5xx, and every refusal with the standard error body',
    async () => {
      // Every admin operation the document describes: a new endpoint joins the fuzz by being documented.
      expect(operations.length).toBeGreaterThanOrEqual(60);
      const failures: string[] = [];
      const started = Date.now();
      for (const [index, op] of operations.entries()) {
        const seen = new Map<number, number>();
        statuses.set(op.name, seen);
        const property = fc.asyncProperty(requestFor(op, values, pools), async (req) => {
          let answer: Answer;
          try {
            answer = await send(t.baseUrl, token, req);
          } catch (err) {
            throw new Error(`${describeSent(req)} got no answer: ${(err as Error).message}`, { cause: err });
          }
          seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
          if (process.env.FUZZ_STATS === 'messages' && answer.status === 400)
            messages.add(`${op.name}: ${answer.body.slice(0, 300)}`);
          const problem = contractProblem(answer);
          if (problem) throw new Error(`${describeSent(req)} ${problem}`);
          await track(op, req, answer);
        });
        try {
          await fc.assert(property, {
            numRuns: RUNS_PER_OPERATION,
            seed: BASE_SEED + index,
            includeErrorInReport: true,
            plugins: [fc.interruptAfterTimeLimit(OPERATION_TIME_LIMIT_MS)],
          });
        } catch (err) {
          failures.push(`${op.name}:\n${(err as Error).message}`);
          // A failure may have left the session or the pools behind: start the next operation from a sound state.
          await keepSession();
        }
      }
      const elapsed = Date.now() - started;
      const summary = [...statuses]
        .map(
          ([name, seen]) =>
            `${name}: ${[...seen]
              .sort(([a], [b]) => a - b)
              .map(([s, n]) => `${s}x${n}`)
              .join(' ')}`,
        )
        .join('\n');
      if (process.env.FUZZ_STATS) console.log(`${elapsed} ms\n${summary}\n${[...messages].join('\n')}`);
      if (failures.length) {
        throw new Error(
          `${failures.length} of ${operations.length} operations broke the contract (base seed ${BASE_SEED}, replay with FUZZ_SEED=${BASE_SEED}; ${elapsed} ms):\n\n${failures.join('\n\n')}\n\nStatuses:\n${summary}`,
        );
      }
      // The run reached the handlers (not only the validation pipe): successes, refusals and not-founds all occurred.
      const all = new Set([...statuses.values()].flatMap((seen) => [...seen.keys()]));
      for (const status of [200, 201, 204, 400, 404])
        expect({ status, seen: all.has(status) }).toEqual({ status, seen: true });
    },
    FUZZ_TIMEOUT_MS,
  );
});
