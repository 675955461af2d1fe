import 'reflect-metadata';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { type ValidationError, validateSync } from 'class-validator';
import {
  HookhubError,
  IpAllowList,
  TRIGGER_ROOTS,
  compileCondition,
  compileTemplate,
  renderArgs,
  renderEnv,
} from '@hookhub/core';
import { CreateProgramDto, ProgramsService } from '@hookhub/tasks';
import { CreateRuleDto } from '../dto/rules.dto';
import { CreateSourceDto } from '../dto/sources.dto';
import { ruleProblems } from '../rules/rule-problems';
import { SourcesService } from '../services/sources.service';
import { VERIFIERS, type VerificationOptions } from '../verifiers';
import { type AdnanhImport, importAdnanh } from './adnanh';

const FIXTURES = join(process.cwd(), 'test/fixtures/adnanh');
const PLACEHOLDER_ID = '00000000-0000-4000-8000-000000000000';
type Item = Record<string, unknown>;

function load(name: string): AdnanhImport {
  return importAdnanh(readFileSync(join(FIXTURES, name), 'utf8'), name);
}

/** The texts adnanh answers with (webhook.go). */
const MISMATCH = 'Hook rules were not satisfied.';
const COMMAND_ERROR = "Error occurred while executing the hook's command. Please check your logs for more details.";
const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded'];

/** The notes every hook gets, by kind (the tests below list which hook gets which). */
const NOTE = {
  env: "Hookhub runs the program without a shell and with only the env it declares (env_allow names, taken from the hub's environment, and the rule's env); adnanh passed its whole environment: add names such as PATH or HOME to env_allow if the command needs them",
  args: 'Hookhub refuses the run (400 run_refused) when a value is missing, is an object, starts with "-" or holds a control character (declare a pattern on the argument to allow such values), and spreads an array into several arguments; adnanh passed each value as one argument (an empty one when missing, JSON for objects and arrays)',
  envValues:
    'Hookhub refuses the run (400 run_refused) when a value is missing or is an object or an array; adnanh left the variable unset, or set it to the JSON text',
  unverified:
    'the source verifies nothing (scheme none: the hook has no payload-hmac check Hookhub could take over), so anyone who knows the URL can trigger it',
  anyMethod:
    'the hook does not restrict methods, so adnanh accepted any (unless started with -http-methods); Hookhub accepts POST only unless methods lists others',
  ip: 'requests from other addresses are refused with 403 (adnanh answered them with its mismatch answer); behind a proxy, the address is the one Hookhub is configured to trust',
  sync: "the source answers once the program has run: it waits up to sync_timeout_seconds (600, the most Hookhub allows; a longer run is answered 202 with Hookhub's own body, and the program is stopped after its timeout_seconds, 600 by default), and {{output}} is its stdout only (adnanh answered with stdout and stderr together, however long the command ran)",
  prefixed: (header: string, algorithm: string) =>
    `Hookhub checks ${header} as "${algorithm}=" followed by the hex HMAC-${algorithm.toUpperCase()} of the body; adnanh also accepted the digest without the prefix, or several comma-separated signatures. A missing or bad signature is refused with 401 (adnanh answered 500 to a bad one, and its mismatch answer when the header was missing)`,
  bare: (header: string, algorithm: string) =>
    `Hookhub checks ${header} as the bare hex HMAC-${algorithm.toUpperCase()} of the body; adnanh also accepted it after a "${algorithm}=" prefix (set verification.prefix to "${algorithm}=" if the sender adds it), or several comma-separated signatures. A missing or bad signature is refused with 401 (adnanh answered 500 to a bad one, and its mismatch answer when the header was missing)`,
};

const pairs = (findings: AdnanhImport['notes']) => findings.map((f) => [f.hook, f.field]);

function messages(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => [
    ...Object.values(e.constraints ?? {}).map((m) => `${prefix}${e.property}: ${m}`),
    ...messages(e.children ?? [], `${prefix}${e.property}.`),
  ]);
}

/** What the DTO (whitelisted, nothing unknown allowed) refuses in `input`. */
function dtoProblems(type: new () => object, input: Item): string[] {
  return messages(validateSync(plainToInstance(type, input), { whitelist: true, forbidNonWhitelisted: true }));
}

function serviceProblems(check: () => void): unknown {
  try {
    check();
    return [];
  } catch (err) {
    if (!(err instanceof HookhubError)) throw err;
    return err.details;
  }
}

/**
 * Checks the produced config as Hookhub itself would before applying it: each program, source and rule
 * against its DTO, the services' own checks (with paths left unchecked: the commands live on another
 * machine), and the rule against its program's env allow-list; `${NAME}` secrets replaced by their values.
 */
function expectValidConfig(result: AdnanhImport): void {
  const { programs, sources } = result.config;
  // Validate reads nothing of the services' state: bare instances will do.
  const programService = Object.create(ProgramsService.prototype) as ProgramsService;
  const sourceService = Object.create(SourcesService.prototype) as SourcesService;
  const byName = new Map<string, Item>();
  for (const program of programs) {
    expect({ name: program.name, problems: dtoProblems(CreateProgramDto, program) }).toEqual({
      name: program.name,
      problems: [],
    });
    const dto = plainToInstance(CreateProgramDto, program);
    expect(serviceProblems(() => programService.validate(dto, false))).toEqual([]);
    byName.set(String(program.name).toLowerCase(), program);
  }
  expect(byName.size).toBe(programs.length);
  const referenced = new Set<string>();
  const slugs = new Set<string>();
  for (const source of sources) {
    const { rules, ...fields } = source;
    const secrets = (fields.secrets as string[] | undefined)?.map((s) => {
      const name = /^\$\{([A-Z0-9_]+)\}$/.exec(s)?.[1];
      expect(name && result.secrets[name]).toBeTruthy();
      referenced.add(name!);
      return result.secrets[name!];
    });
    const input = secrets ? { ...fields, secrets } : fields;
    expect({ slug: source.slug, problems: dtoProblems(CreateSourceDto, input) }).toEqual({
      slug: source.slug,
      problems: [],
    });
    expect(serviceProblems(() => sourceService.validate(plainToInstance(CreateSourceDto, input)))).toEqual([]);
    slugs.add(String(source.slug));
    expect(Array.isArray(rules) && rules.length).toBe(1);
    for (const rule of rules as Item[]) {
      const { program: name, ...ruleFields } = rule;
      const program = byName.get(String(name).toLowerCase());
      expect(program).toBeDefined();
      const ruleInput = { ...ruleFields, program_id: PLACEHOLDER_ID };
      expect({ rule: rule.name, problems: dtoProblems(CreateRuleDto, ruleInput) }).toEqual({
        rule: rule.name,
        problems: [],
      });
      const envAllow = (program!.env_allow as string[] | undefined) ?? [];
      expect(ruleProblems(plainToInstance(CreateRuleDto, ruleInput), { name: String(name), envAllow })).toEqual([]);
    }
  }
  expect(slugs.size).toBe(sources.length);
  expect([...referenced].sort()).toEqual(Object.keys(result.secrets).sort());
  // The config itself holds no secret value.
  const text = JSON.stringify(result.config);
  for (const value of Object.values(result.secrets)) expect(text).not.toContain(value);
}

function rule(result: AdnanhImport, slug: string): Item {
  const source = result.config.sources.find((s) => s.slug === slug)!;
  return (source.rules as Item[])[0];
}

function matches(condition: unknown, ctx: Item): boolean {
  return compileCondition(condition, { roots: TRIGGER_ROOTS })({ headers: {}, query: {}, body: {}, ...ctx }).matched;
}

function signature(algorithm: string, secret: string, body: Buffer): string {
  return createHmac(algorithm, secret).update(body).digest('hex');
}

function verifies(source: Item, secrets: Record<string, string>, headers: Record<string, string>, body: Buffer) {
  const name = /^\$\{(.+)\}$/.exec((source.secrets as string[])[0])![1];
  return VERIFIERS.hmac.verify({
    headers,
    rawBody: body,
    secrets: [secrets[name]],
    options: source.verification as VerificationOptions,
    now: new Date(),
    toleranceSeconds: 300,
  }).ok;
}

describe('importAdnanh: the JSON hooks file', () => {
  const result = load('hooks.json');

  it('maps each hook to a program, a source and its rule', () => {
    expect(result.hooks).toBe(3);
    expect(result.config.programs).toEqual([
      {
        name: 'deploy-api',
        description: 'adnanh/webhook hook "deploy-api" (hooks.json)',
        command: '/srv/hooks/deploy-api.sh',
        cwd: '/srv/api',
        env_allow: ['DELIVERY_ID', 'PUSHED_BY'],
      },
      {
        name: 'gitlab-build',
        description: 'adnanh/webhook hook "gitlab-build" (hooks.json)',
        command: '/srv/hooks/build.sh',
        env_allow: ['HOOK_user_username'],
      },
      {
        name: 'backup-lan',
        description: 'adnanh/webhook hook "backup-lan" (hooks.json)',
        command: '/usr/local/bin/nightly-backup',
      },
    ]);
    expect(result.config.sources).toEqual([
      {
        slug: 'deploy-api',
        name: 'deploy-api',
        description: 'adnanh/webhook hook "deploy-api" (hooks.json)',
        scheme: 'hmac',
        verification: { header: 'X-Hub-Signature-256', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=' },
        secrets: ['${ADNANH_DEPLOY_API_SECRET}'],
        methods: ['POST'],
        content_types: CONTENT_TYPES,
        answer: {
          status: 200,
          body: 'Deploying the API from main',
          unmatched_status: 200,
          unmatched_body: MISMATCH,
        },
        rules: [
          {
            name: 'deploy-api',
            condition: {
              and: [
                { path: 'body.ref', eq: 'refs/heads/main' },
                { path: 'headers.x-github-event', eq: 'push' },
              ],
            },
            program: 'deploy-api',
            args: ['{{body.head_commit.id}}', '{{body.repository.full_name}}', 'production'],
            env: { DELIVERY_ID: '{{headers.x-github-delivery}}', PUSHED_BY: '{{body.pusher.name}}' },
          },
        ],
      },
      {
        slug: 'gitlab-build',
        name: 'gitlab-build',
        description: 'adnanh/webhook hook "gitlab-build" (hooks.json)',
        scheme: 'none',
        content_types: CONTENT_TYPES,
        answer: { status: 202, unmatched_status: 400, unmatched_body: MISMATCH },
        rules: [
          {
            name: 'gitlab-build',
            condition: {
              and: [
                { path: 'headers.x-gitlab-token', eq: 'example-gitlab-token' },
                { path: 'body.ref', regex: '^refs/(heads/main|tags/v[0-9.]+)$' },
              ],
            },
            program: 'gitlab-build',
            args: ['{{body.project.path_with_namespace}}', '{{body.checkout_sha}}'],
            env: { HOOK_user_username: '{{body.user_username}}' },
          },
        ],
      },
      {
        slug: 'backup-lan',
        name: 'backup-lan',
        description: 'adnanh/webhook hook "backup-lan" (hooks.json)',
        scheme: 'none',
        ip_allow: ['10.20.0.0/16', '192.168.1.15'],
        methods: ['POST', 'GET'],
        content_types: CONTENT_TYPES,
        answer: { status: 200, unmatched_status: 200, unmatched_body: MISMATCH },
        rules: [
          {
            name: 'backup-lan',
            condition: { path: 'query.mode', eq: 'full' },
            program: 'backup-lan',
            args: ['{{query.target}}', '{{query.level}}'],
          },
        ],
      },
    ]);
  });

  it('moves the signature secret out of the config', () => {
    expect(result.secrets).toEqual({ ADNANH_DEPLOY_API_SECRET: 'example-push-secret' });
  });

  it('maps everything, and says what behaves differently', () => {
    expect(result.unmapped).toEqual([]);
    expect(pairs(result.notes)).toEqual([
      ['deploy-api', 'execute-command'],
      ['deploy-api', 'pass-arguments-to-command'],
      ['deploy-api', 'pass-environment-to-command'],
      ['deploy-api', 'trigger-rule.and[0].match'],
      ['gitlab-build', 'execute-command'],
      ['gitlab-build', 'pass-arguments-to-command'],
      ['gitlab-build', 'pass-environment-to-command'],
      ['gitlab-build', 'trigger-rule.and[0].match'],
      ['gitlab-build', 'trigger-rule'],
      ['gitlab-build', 'http-methods'],
      ['backup-lan', 'execute-command'],
      ['backup-lan', 'pass-arguments-to-command'],
      ['backup-lan', 'trigger-rule.and[0].match'],
      ['backup-lan', 'trigger-rule'],
    ]);
    const byPair = Object.fromEntries(result.notes.map((n) => [`${n.hook} ${n.field}`, n.message]));
    expect(byPair['deploy-api execute-command']).toBe(NOTE.env);
    expect(byPair['deploy-api pass-arguments-to-command']).toBe(NOTE.args);
    expect(byPair['deploy-api pass-environment-to-command']).toBe(NOTE.envValues);
    expect(byPair['deploy-api trigger-rule.and[0].match']).toBe(NOTE.prefixed('X-Hub-Signature-256', 'sha256'));
    expect(byPair['gitlab-build trigger-rule.and[0].match']).toBe(
      "the header X-Gitlab-Token is compared in the rule's condition: the token sits in the config in clear text (not among the secrets), and a wrong one is answered as unmatched, not refused; scheme token with verification.header X-Gitlab-Token would keep it among the secrets",
    );
    expect(byPair['gitlab-build trigger-rule']).toBe(NOTE.unverified);
    expect(byPair['gitlab-build http-methods']).toBe(NOTE.anyMethod);
    expect(byPair['backup-lan trigger-rule.and[0].match']).toBe(NOTE.ip);
    expect(byPair['backup-lan trigger-rule']).toBe(
      'the source verifies nothing (scheme none: the hook has no payload-hmac check Hookhub could take over), so anyone who knows the URL and calls from an allowed address can trigger it',
    );
  });

  it('produces a config Hookhub validates', () => {
    expectValidConfig(result);
  });

  it("verifies GitHub's signature with the source's hmac settings", () => {
    const source = result.config.sources[0];
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    const digest = signature('sha256', 'example-push-secret', body);
    expect(verifies(source, result.secrets, { 'x-hub-signature-256': `sha256=${digest}` }, body)).toBe(true);
    expect(verifies(source, result.secrets, { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, body)).toBe(false);
    expect(verifies(source, result.secrets, {}, body)).toBe(false);
  });

  it('decides like adnanh on a push: main and a push event run, anything else does not', () => {
    const { condition } = rule(result, 'deploy-api');
    const push = { headers: { 'x-github-event': 'push' }, body: { ref: 'refs/heads/main' } };
    expect(matches(condition, push)).toBe(true);
    expect(matches(condition, { ...push, body: { ref: 'refs/heads/dev' } })).toBe(false);
    expect(matches(condition, { ...push, headers: { 'x-github-event': 'ping' } })).toBe(false);
    const gitlab = rule(result, 'gitlab-build').condition;
    const token = { 'x-gitlab-token': 'example-gitlab-token' };
    expect(matches(gitlab, { headers: token, body: { ref: 'refs/tags/v1.2.0' } })).toBe(true);
    expect(matches(gitlab, { headers: token, body: { ref: 'refs/heads/feature' } })).toBe(false);
    expect(matches(gitlab, { headers: { 'x-gitlab-token': 'wrong' }, body: { ref: 'refs/heads/main' } })).toBe(false);
  });

  it('renders the arguments and env adnanh passed', () => {
    const deploy = rule(result, 'deploy-api');
    const ctx = {
      headers: { 'x-github-delivery': 'd-1' },
      body: { head_commit: { id: 'abc123' }, repository: { full_name: 'acme/api' }, pusher: { name: 'ada' } },
    };
    const args = (deploy.args as string[]).map((t) => compileTemplate(t, { kind: 'arg', roots: TRIGGER_ROOTS }));
    expect(renderArgs(args, ctx)).toEqual(['abc123', 'acme/api', 'production']);
    const env = Object.fromEntries(
      Object.entries(deploy.env as Record<string, string>).map(([k, t]) => [
        k,
        compileTemplate(t, { kind: 'env', roots: TRIGGER_ROOTS }),
      ]),
    );
    expect(renderEnv(env, ctx)).toEqual({ DELIVERY_ID: 'd-1', PUSHED_BY: 'ada' });
  });

  it('allows the listed addresses only', () => {
    const allow = new IpAllowList(result.config.sources[2].ip_allow as string[]);
    expect(allow.allows('10.20.7.9')).toBe(true);
    expect(allow.allows('192.168.1.15')).toBe(true);
    expect(allow.allows('192.168.1.16')).toBe(false);
  });
});

describe('importAdnanh: the YAML hooks file', () => {
  const result = load('hooks.yaml');

  it('maps each hook, answers included', () => {
    expect(result.hooks).toBe(4);
    expect(result.config.programs).toEqual([
      {
        name: 'redeploy',
        description: 'adnanh/webhook hook "redeploy" (hooks.yaml)',
        command: '/opt/site/bin/redeploy.sh',
        cwd: '/opt/site',
      },
      {
        name: 'docs-site-publish-2',
        description: 'adnanh/webhook hook "Docs_Site.Publish" (hooks.yaml)',
        command: '/opt/docs/publish.sh',
        env_allow: ['BUILD_KIND'],
      },
      {
        name: 'docs-site-publish',
        description: 'adnanh/webhook hook "docs-site-publish" (hooks.yaml)',
        command: '/opt/docs/preview.sh',
      },
      {
        name: 'bitbucket-release',
        description: 'adnanh/webhook hook "bitbucket-release" (hooks.yaml)',
        command: '/opt/release/release.sh',
        env_allow: ['RELEASED_BY'],
      },
    ]);
    expect(result.config.sources).toEqual([
      {
        slug: 'redeploy',
        name: 'redeploy',
        description: 'adnanh/webhook hook "redeploy" (hooks.yaml)',
        scheme: 'none',
        content_types: CONTENT_TYPES,
        response_mode: 'sync',
        sync_timeout_seconds: 600,
        answer: { status: 200, body: '{{output}}', failed_status: 500, failed_body: '{{output}}' },
        rules: [{ name: 'redeploy', condition: true, program: 'redeploy' }],
      },
      {
        slug: 'docs-site-publish-2',
        name: 'Docs_Site.Publish',
        description: 'adnanh/webhook hook "Docs_Site.Publish" (hooks.yaml)',
        scheme: 'hmac',
        verification: { header: 'X-Hub-Signature', algorithm: 'sha1', encoding: 'hex', prefix: 'sha1=' },
        secrets: ['${ADNANH_DOCS_SITE_PUBLISH_2_SECRET}'],
        content_types: CONTENT_TYPES,
        response_mode: 'sync',
        sync_timeout_seconds: 600,
        answer: {
          status: 201,
          body: '{{output}}',
          failed_status: 500,
          failed_body: COMMAND_ERROR,
          unmatched_status: 200,
          unmatched_body: MISMATCH,
        },
        rules: [
          {
            name: 'Docs_Site.Publish',
            condition: true,
            program: 'docs-site-publish-2',
            env: { BUILD_KIND: 'nightly' },
          },
        ],
      },
      {
        slug: 'docs-site-publish',
        name: 'docs-site-publish',
        description: 'adnanh/webhook hook "docs-site-publish" (hooks.yaml)',
        scheme: 'hmac',
        verification: { header: 'X-Signature', algorithm: 'sha512', encoding: 'hex' },
        secrets: ['${ADNANH_DOCS_SITE_PUBLISH_SECRET}'],
        methods: ['PUT'],
        content_types: CONTENT_TYPES,
        answer: { status: 200, body: 'Preview queued', unmatched_status: 200, unmatched_body: MISMATCH },
        rules: [
          {
            name: 'docs-site-publish',
            condition: true,
            program: 'docs-site-publish',
            args: ['{{headers.x-preview-branch}}'],
          },
        ],
      },
      {
        slug: 'bitbucket-release',
        name: 'bitbucket-release',
        description: 'adnanh/webhook hook "bitbucket-release" (hooks.yaml)',
        scheme: 'none',
        content_types: CONTENT_TYPES,
        answer: { status: 200, unmatched_status: 200, unmatched_body: MISMATCH },
        rules: [
          {
            name: 'bitbucket-release',
            condition: {
              and: [
                { path: 'headers.x-event-key', eq: 'repo:push' },
                { path: 'query.token', eq: 'example-query-token' },
                {
                  or: [
                    { path: 'body.push.changes.0.new.name', eq: 'main' },
                    {
                      and: [
                        { path: 'body.push.changes.0.new.name', regex: '^release/' },
                        { not: { path: 'body.push.changes.0.forced', in: ['true', true] } },
                      ],
                    },
                    { path: 'body.repository.id', in: ['42', 42] },
                  ],
                },
              ],
            },
            program: 'bitbucket-release',
            args: ['{{body.push.changes.0.new.name}}'],
            env: { RELEASED_BY: '{{body.actor.display_name}}' },
          },
        ],
      },
    ]);
  });

  it('names one secret per signed hook', () => {
    expect(result.secrets).toEqual({
      ADNANH_DOCS_SITE_PUBLISH_2_SECRET: 'example-legacy-secret',
      ADNANH_DOCS_SITE_PUBLISH_SECRET: 'example-preview-secret',
    });
  });

  it('notes the changed URL, the slug taken twice, the ignored message and the sync answer', () => {
    expect(result.unmapped).toEqual([]);
    expect(result.notes).toEqual([
      {
        hook: 'redeploy',
        field: 'execute-command',
        message: 'resolved against command-working-directory: /opt/site/bin/redeploy.sh',
      },
      { hook: 'redeploy', field: 'execute-command', message: NOTE.env },
      { hook: 'redeploy', field: 'trigger-rule', message: NOTE.unverified },
      { hook: 'redeploy', field: 'http-methods', message: NOTE.anyMethod },
      { hook: 'redeploy', field: 'include-command-output-in-response', message: NOTE.sync },
      {
        hook: 'redeploy',
        field: 'response-message',
        message: "not used: with include-command-output-in-response adnanh answers with the command's output",
      },
      {
        hook: 'Docs_Site.Publish',
        field: 'id',
        message: 'another hook already becomes docs-site-publish, so this one is docs-site-publish-2',
      },
      {
        hook: 'Docs_Site.Publish',
        field: 'id',
        message: 'the URL changes from /hooks/Docs_Site.Publish to /hooks/docs-site-publish-2',
      },
      { hook: 'Docs_Site.Publish', field: 'execute-command', message: NOTE.env },
      {
        hook: 'Docs_Site.Publish',
        field: 'trigger-rule.and[0].match',
        message: NOTE.prefixed('X-Hub-Signature', 'sha1'),
      },
      { hook: 'Docs_Site.Publish', field: 'http-methods', message: NOTE.anyMethod },
      { hook: 'Docs_Site.Publish', field: 'include-command-output-in-response', message: NOTE.sync },
      { hook: 'docs-site-publish', field: 'execute-command', message: NOTE.env },
      { hook: 'docs-site-publish', field: 'pass-arguments-to-command', message: NOTE.args },
      { hook: 'docs-site-publish', field: 'trigger-rule.match', message: NOTE.bare('X-Signature', 'sha512') },
      { hook: 'bitbucket-release', field: 'execute-command', message: NOTE.env },
      { hook: 'bitbucket-release', field: 'pass-arguments-to-command', message: NOTE.args },
      { hook: 'bitbucket-release', field: 'pass-environment-to-command', message: NOTE.envValues },
      {
        hook: 'bitbucket-release',
        field: 'trigger-rule.and[1].match',
        message:
          "the query value token is compared in the rule's condition: the token sits in the config in clear text (not among the secrets), and a wrong one is answered as unmatched, not refused",
      },
      { hook: 'bitbucket-release', field: 'trigger-rule', message: NOTE.unverified },
      { hook: 'bitbucket-release', field: 'http-methods', message: NOTE.anyMethod },
    ]);
  });

  it('produces a config Hookhub validates', () => {
    expectValidConfig(result);
  });

  it('verifies a bare sha512 digest and a sha1= one', () => {
    const body = Buffer.from('{"page":"index"}');
    const [, legacy, preview] = result.config.sources;
    const sha512 = signature('sha512', 'example-preview-secret', body);
    expect(verifies(preview, result.secrets, { 'x-signature': sha512 }, body)).toBe(true);
    expect(verifies(preview, result.secrets, { 'x-signature': `sha512=${sha512}` }, body)).toBe(false);
    const sha1 = signature('sha1', 'example-legacy-secret', body);
    expect(verifies(legacy, result.secrets, { 'x-hub-signature': `sha1=${sha1}` }, body)).toBe(true);
  });

  it('evaluates the or/not tree as adnanh did, JSON true and numbers included', () => {
    const { condition } = rule(result, 'bitbucket-release');
    const base = { headers: { 'x-event-key': 'repo:push' }, query: { token: 'example-query-token' } };
    const push = (name: string, forced: unknown, id: unknown = 7) => ({
      ...base,
      body: { push: { changes: [{ new: { name }, forced }] }, repository: { id } },
    });
    expect(matches(condition, push('main', true))).toBe(true);
    expect(matches(condition, push('release/2.0', false))).toBe(true);
    expect(matches(condition, push('release/2.0', true))).toBe(false);
    expect(matches(condition, push('release/2.0', 'true'))).toBe(false);
    expect(matches(condition, push('feature/x', false))).toBe(false);
    expect(matches(condition, push('feature/x', false, 42))).toBe(true);
    expect(matches(condition, { ...push('main', false), query: { token: 'nope' } })).toBe(false);
  });
});

describe('importAdnanh: what cannot be mapped', () => {
  const result = load('unsupported.json');
  const legacy = 'Legacy Tasks!';
  const never = 'it stands as false in the condition, so this part never matches';
  const disabled = 'the rule is disabled until this is settled';

  it('lists every field it could not carry over, with why', () => {
    expect(result.unmapped).toEqual([
      {
        hook: legacy,
        field: 'execute-command',
        message:
          'cleanup.sh is not an absolute path (adnanh looked it up in PATH); Hookhub runs a program by absolute path only: kept as written, so the file will not apply until it is made absolute',
      },
      {
        hook: legacy,
        field: 'pass-arguments-to-command[0].source',
        message: `Hookhub templates render strings, numbers and booleans only ({{body}} of an object is refused), so entire-payload cannot be passed as JSON; an empty argument keeps the later ones in place, and ${disabled}`,
      },
      {
        hook: legacy,
        field: 'pass-arguments-to-command[1].envname',
        message: 'not used by an argument (adnanh ignores it)',
      },
      {
        hook: legacy,
        field: 'pass-arguments-to-command[2].source',
        message: `Hookhub conditions and templates cannot read the request's method or address; an empty argument keeps the later ones in place, and ${disabled}`,
      },
      {
        hook: legacy,
        field: 'pass-environment-to-command[0].source',
        message: `Hookhub templates render strings, numbers and booleans only ({{headers}} of an object is refused), so entire-headers cannot be passed as JSON; the variable is not set, and ${disabled}`,
      },
      {
        hook: legacy,
        field: 'pass-environment-to-command[1].envname',
        message: `LD_PRELOAD is one of the names Hookhub never passes to a program (HOOKHUB_*, DATABASE_*, REDIS_URL, PGPASSWORD, NODE_OPTIONS, LD_*, DYLD_*); ${disabled}`,
      },
      {
        hook: legacy,
        field: 'trigger-rule.and[0].match.type',
        message: `Hookhub has no Scalr signature scheme (an HMAC-SHA1 of the body and the Date header); ${never}`,
      },
      {
        hook: legacy,
        field: 'trigger-rule.and[1].or[0].match.type',
        message: `a payload-hmac-sha1 check under "or" or "not" cannot become the source's verification (Hookhub checks the signature of every request, before any rule); ${never}`,
      },
      {
        hook: legacy,
        field: 'trigger-rule.and[1].or[1].match.type',
        message: `an ip-whitelist check under "or" or "not" cannot become the source's ip_allow (Hookhub checks the address of every request, before any rule); ${never}`,
      },
      {
        hook: legacy,
        field: 'trigger-rule.and[2].not.match.parameter.source',
        message:
          'Hookhub conditions and templates cannot read the request\'s method or address; it stands as true under "not", so this part never matches',
      },
      { hook: legacy, field: 'http-methods[1]', message: 'HEAD: a source accepts POST, PUT, PATCH, GET, DELETE' },
      {
        hook: legacy,
        field: 'success-http-response-code',
        message: '302: Hookhub answers a trigger that started a run with 200 to 299; it answers 200',
      },
      {
        hook: legacy,
        field: 'trigger-rule-mismatch-http-response-code',
        message: '100: Hookhub answers an unmatched trigger with 200 to 599; it answers 200',
      },
      { hook: legacy, field: 'x-owner', message: 'not an adnanh hook field (adnanh ignores it)' },
      { hook: legacy, field: 'response-headers', message: 'Hookhub sources cannot add headers to their answers' },
      {
        hook: legacy,
        field: 'pass-file-to-command',
        message: `Hookhub passes no files to programs (pass the value as an argument or an env value instead); ${disabled}`,
      },
      {
        hook: legacy,
        field: 'parse-parameters-as-json',
        message:
          'Hookhub does not decode JSON held in a string value: conditions and templates that read into it find nothing',
      },
      {
        hook: legacy,
        field: 'incoming-payload-content-type',
        message: "Hookhub parses a body by the request's own Content-Type",
      },
      {
        hook: legacy,
        field: 'trigger-signature-soft-failures',
        message:
          'the signature check becomes the source verification, which refuses a bad signature before any rule is evaluated',
      },
      {
        hook: 'cron-report',
        field: 'command-working-directory',
        message: `reports is not an absolute path, which Hookhub needs; ${disabled}`,
      },
      {
        hook: 'cron-report',
        field: 'trigger-rule.and[2].match.type',
        message: `a second signature check (the first, trigger-rule.and[0].match, became the source's verification): a source has one verification; ${never}`,
      },
      {
        hook: 'cron-report',
        field: 'trigger-rule.and[4].match.type',
        message: `a second ip-whitelist check: adnanh required both, while the addresses of a source are one list (any of them is allowed); ${never}`,
      },
      {
        hook: 'cron-report',
        field: 'trigger-rule.and[5].match.value',
        message: 'not used by a regex match (adnanh ignores it)',
      },
      {
        hook: 'cron-report',
        field: 'trigger-rule.and[5].match.regex',
        message: `not a regular expression Hookhub runs: invalid or unsupported Perl syntax: \`(?!\` (patterns use RE2 syntax: no lookahead, lookbehind or backreferences); ${never}`,
      },
      {
        hook: 'cron-report',
        field: 'trigger-rule.and[6].match.parameter.name',
        message: `"#text" cannot be read by a Hookhub path: Invalid path "body.#text": "#text" has characters other than letters, digits, _ - $ @; ${never}`,
      },
      {
        hook: 'cron-report',
        field: 'trigger-rule.and[7].match.type',
        message: `unknown match type "payload-hash-md5" (adnanh evaluates it as false); ${never}`,
      },
      {
        hook: 'cron-report',
        field: 'response-message',
        message: 'the text holds {{...}}, which a Hookhub answer would read as a placeholder',
      },
    ]);
  });

  it('notes what it mapped with a difference', () => {
    expect(result.notes).toEqual([
      { hook: legacy, field: 'id', message: 'the URL changes from /hooks/Legacy Tasks! to /hooks/legacy-tasks' },
      { hook: legacy, field: 'execute-command', message: NOTE.env },
      { hook: legacy, field: 'pass-arguments-to-command', message: NOTE.args },
      {
        hook: legacy,
        field: 'pass-environment-to-command[2].name',
        message: 'HOOK_job.id is not an env name Hookhub allows: the program gets HOOK_job_id instead',
      },
      { hook: legacy, field: 'pass-environment-to-command', message: NOTE.envValues },
      { hook: legacy, field: 'trigger-rule', message: NOTE.unverified },
      { hook: 'cron-report', field: 'execute-command', message: NOTE.env },
      { hook: 'cron-report', field: 'trigger-rule.and[0].match', message: NOTE.bare('X-Signature', 'sha256') },
      {
        hook: 'cron-report',
        field: 'trigger-rule.and[1].match',
        message: 'the same signature check as trigger-rule.and[0].match: checked once',
      },
      {
        hook: 'cron-report',
        field: 'trigger-rule.and[3].match.ip-range',
        message: 'adnanh read the IPv6 address fd00::7 as fd00::7/32 (a whole range); Hookhub allows that one address',
      },
      { hook: 'cron-report', field: 'trigger-rule.and[3].match', message: NOTE.ip },
      { hook: 'cron-report', field: 'http-methods', message: NOTE.anyMethod },
    ]);
  });

  it('fails closed: lost checks never match, and rules missing an input are disabled', () => {
    expect(result.config.sources.map(({ rules: _r, description: _d, ...s }) => s)).toEqual([
      {
        slug: 'legacy-tasks',
        name: legacy,
        scheme: 'none',
        methods: ['POST'],
        content_types: CONTENT_TYPES,
        answer: { status: 200, unmatched_status: 200, unmatched_body: MISMATCH },
      },
      {
        slug: 'cron-report',
        name: 'cron-report',
        scheme: 'hmac',
        verification: { header: 'X-Signature', algorithm: 'sha256', encoding: 'hex' },
        secrets: ['${ADNANH_CRON_REPORT_SECRET}'],
        ip_allow: ['fd00::7', '10.0.0.0/8'],
        content_types: CONTENT_TYPES,
        answer: { status: 200, unmatched_status: 200, unmatched_body: MISMATCH },
      },
    ]);
    expect(rule(result, 'legacy-tasks')).toEqual({
      name: legacy,
      condition: { and: [false, { or: [false, false] }, { not: true }] },
      program: 'legacy-tasks',
      args: ['', '{{body.task}}', ''],
      env: { HOOK_job_id: '{{body.job.id}}' },
      enabled: false,
    });
    expect(rule(result, 'cron-report')).toEqual({
      name: 'cron-report',
      condition: { and: [false, false, false, false, false] },
      program: 'cron-report',
      enabled: false,
    });
    expect(result.config.programs).toEqual([
      {
        name: 'legacy-tasks',
        description: 'adnanh/webhook hook "Legacy Tasks!" (unsupported.json)',
        command: 'cleanup.sh',
        env_allow: ['HOOK_job_id'],
      },
      {
        name: 'cron-report',
        description: 'adnanh/webhook hook "cron-report" (unsupported.json)',
        command: '/opt/reports/run.sh',
      },
    ]);
    expect(result.secrets).toEqual({ ADNANH_CRON_REPORT_SECRET: 'example-report-secret' });
  });

  it('still produces a config the DTOs accept (the relative command is refused only where programs are checked on disk)', () => {
    expectValidConfig(result);
  });
});

describe('importAdnanh: details of the mapping', () => {
  const one = (hook: Item) => importAdnanh(JSON.stringify([{ 'execute-command': '/bin/true', ...hook }]), 'h.json');

  it('keeps ids that are slugs, and makes the others distinct slugs', () => {
    const long = 'A'.repeat(80);
    const result = importAdnanh(
      JSON.stringify(
        ['same', 'same', '***', long, `${long}!`, 'x-2', 'X'].map((id) => ({ id, 'execute-command': '/bin/true' })),
      ),
      'h.json',
    );
    expect(result.config.sources.map((s) => s.slug)).toEqual([
      'same',
      'same-2',
      'hook',
      'a'.repeat(63),
      `${'a'.repeat(61)}-2`,
      'x-2',
      'x',
    ]);
    expect(result.config.programs.map((p) => p.name)).toEqual(result.config.sources.map((s) => s.slug));
    expect(result.notes.filter((n) => n.field === 'id').map((n) => `${n.hook}: ${n.message}`)).toEqual([
      'same: another hook already becomes same, so this one is same-2',
      'same: the URL changes from /hooks/same to /hooks/same-2',
      '***: the URL changes from /hooks/*** to /hooks/hook',
      `${long}: the URL changes from /hooks/${long} to /hooks/${'a'.repeat(63)}`,
      `${long}!: another hook already becomes ${'a'.repeat(63)}, so this one is ${'a'.repeat(61)}-2`,
      `${long}!: the URL changes from /hooks/${long}! to /hooks/${'a'.repeat(61)}-2`,
      'X: the URL changes from /hooks/X to /hooks/x',
    ]);
    expectValidConfig(result);
  });

  it('takes a signature check out of nested ands, and keeps the rest of the tree', () => {
    const result = one({
      id: 'nested',
      'trigger-rule': {
        and: [
          {
            and: [
              {
                match: {
                  type: 'payload-hash-sha256',
                  secret: 's3',
                  parameter: { source: 'header', name: 'X-Hub-Signature-256' },
                },
              },
              { match: { type: 'value', value: 'b', parameter: { source: 'query', name: 'a' } } },
            ],
          },
          { or: [] },
          { and: [] },
        ],
      },
    });
    const source = result.config.sources[0];
    expect(source.verification).toEqual({
      header: 'X-Hub-Signature-256',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: 'sha256=',
    });
    expect(result.secrets).toEqual({ ADNANH_NESTED_SECRET: 's3' });
    expect((source.rules as Item[])[0].condition).toEqual({ and: [{ path: 'query.a', eq: 'b' }, false, true] });
    expect(result.notes.map((n) => n.field)).toContain('trigger-rule.and[0].and[0].match.type');
    expect(result.notes.find((n) => n.field === 'trigger-rule.and[0].and[0].match.type')!.message).toBe(
      "payload-hash-sha256 is adnanh's deprecated name of payload-hmac-sha256: mapped as that",
    );
    expect(result.unmapped).toEqual([]);
  });

  it('refuses a signature under "not" and one that is not in a header, failing closed', () => {
    const hmac = (source: string) => ({
      match: { type: 'payload-hmac-sha256', secret: 'k', parameter: { source, name: 'sig' } },
    });
    const result = one({ id: 'n', 'trigger-rule': { and: [{ not: hmac('header') }, hmac('url')] } });
    const source = result.config.sources[0];
    expect(source.scheme).toBe('none');
    expect(result.secrets).toEqual({});
    expect((source.rules as Item[])[0].condition).toEqual({ and: [{ not: true }, false] });
    expect(result.unmapped.map((u) => u.field)).toEqual([
      'trigger-rule.and[0].not.match.type',
      'trigger-rule.and[1].match.parameter',
    ]);
  });

  it('evaluates matches on constant strings, and maps a string match as adnanh compares it', () => {
    const result = one({
      id: 'c',
      'trigger-rule': {
        or: [
          { match: { type: 'value', value: 'on', parameter: { source: 'string', name: 'on' } } },
          { match: { type: 'regex', regex: '^of', parameter: { source: 'string', name: 'on' } } },
          { match: { type: 'value', value: 'x', parameter: { source: 'header', name: 'X-Kind' } } },
        ],
      },
    });
    expect((result.config.sources[0].rules as Item[])[0].condition).toEqual({
      or: [true, false, { path: 'headers.x-kind', eq: 'x' }],
    });
  });

  it('reads YAML 1.1 as adnanh does, and YAML in a file that is not named .yaml', () => {
    const text = '- id: build\n  execute-command: /bin/true\n  include-command-output-in-response: yes\n';
    const result = importAdnanh(text, 'hooks.conf');
    expect(result.config.sources[0].response_mode).toBe('sync');
    expect(result.config.sources[0].answer).toEqual({
      status: 200,
      body: '{{output}}',
      failed_status: 500,
      failed_body: COMMAND_ERROR,
    });
  });

  it('notes settings adnanh itself ignores', () => {
    const result = one({
      id: 'quiet',
      'include-command-output-in-response-on-error': true,
      'trigger-rule-mismatch-http-response-code': 404,
      'http-methods': ['get'],
    });
    expect(result.config.sources[0].answer).toEqual({ status: 200 });
    expect(result.config.sources[0].methods).toEqual(['GET']);
    expect(result.notes.slice(2)).toEqual([
      {
        hook: 'quiet',
        field: 'include-command-output-in-response-on-error',
        message: 'not used: adnanh reads it only with include-command-output-in-response',
      },
      {
        hook: 'quiet',
        field: 'trigger-rule-mismatch-http-response-code',
        message: 'not used: the hook has no trigger-rule, so it always matches',
      },
    ]);
  });

  it('refuses fields of the wrong type', () => {
    const result = one({
      id: 'types',
      'include-command-output-in-response': 'true',
      'success-http-response-code': '200',
      'pass-arguments-to-command': { source: 'payload' },
    });
    expect(result.unmapped).toEqual([
      { hook: 'types', field: 'pass-arguments-to-command', message: 'must be a list' },
      { hook: 'types', field: 'success-http-response-code', message: 'must be an integer HTTP status code' },
      {
        hook: 'types',
        field: 'include-command-output-in-response',
        message: 'must be true or false (adnanh refuses to load it otherwise)',
      },
    ]);
    expect(result.config.sources[0].answer).toEqual({ status: 200 });
  });
});

describe('importAdnanh: files it refuses', () => {
  it.each([
    [
      'an object',
      '{"id": "a", "execute-command": "/bin/true"}',
      'h.json',
      /^h\.json is not an adnanh hooks file: it must be a list of hook objects \(got an object\)$/,
    ],
    ['a scalar', '"hooks"', 'h.json', /it must be a list of hook objects \(got a string\)$/],
    ['an empty file', '', 'h.yaml', /it must be a list of hook objects \(got nothing\)$/],
    ['a list of scalars', '[1]', 'h.json', /^h\.json: hook #1 is not an object$/],
    ['a hook without id', '[{"execute-command": "/bin/true"}]', 'h.json', /^h\.json: hook #1 has no id$/],
    [
      'a hook whose id YAML reads as a boolean',
      '- id: y\n  execute-command: /bin/true\n',
      'h.yaml',
      /^h\.yaml: hook #1: its id must be a string \(got true; quote it\)$/,
    ],
    ['a hook with an empty id', '[{"id": " ", "execute-command": "/bin/true"}]', 'h.json', /hook #1 has no id$/],
    [
      'a hook without execute-command',
      '- id: a\n  execute-command: /bin/true\n- id: b\n',
      'h.yml',
      /^h\.yml: hook "b" \(#2\) has no execute-command$/,
    ],
    ['invalid YAML', '- id: a\n  execute-command: [/bin/true\n', 'h.yaml', /^h\.yaml is not valid YAML \(line \d+\): /],
    [
      'an unrendered template',
      '[{"id": "a", "execute-command": "/bin/true", "trigger-rule": {"match": {"secret": "{{ getenv "S" }}"}}}]',
      'hooks.json',
      /^hooks\.json is not valid JSON or YAML .*must be rendered before it is converted\)$/,
    ],
  ])('refuses %s', (_what, text, name, message) => {
    expect(() => importAdnanh(text, name)).toThrow(message);
  });

  it('converts an empty list to an empty config', () => {
    expect(importAdnanh('[]', 'h.json')).toEqual({
      config: { programs: [], sources: [] },
      unmapped: [],
      notes: [],
      secrets: {},
      hooks: 0,
    });
  });
});
