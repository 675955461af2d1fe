import { ConditionError, TRIGGER_ROOTS, compileCondition, conditionProblem } from './condition';
import { PathError, getPath, parsePath } from './path';
import { TemplateError, compileTemplate, renderArgs, renderEnv } from './template';

const ctx = {
  event: 'push',
  headers: { 'x-github-event': 'push' },
  body: {
    ref: 'refs/heads/main',
    size: 3,
    tags: ['a', 'b'],
    repository: { full_name: 'acme/api' },
    args: ['-a', '--volumes'],
    n: null,
  },
};

describe('dot paths', () => {
  it('reads nested values and array indexes through own properties only', () => {
    expect(getPath(ctx, 'body.repository.full_name')).toBe('acme/api');
    expect(getPath(ctx, 'body.tags.1')).toBe('b');
    expect(getPath(ctx, 'body.missing.deeper')).toBeUndefined();
    expect(getPath({ a: {} }, 'a.toString')).toBeUndefined();
  });

  it.each(['__proto__', 'body.constructor', 'body.prototype.x', 'a..b', '', 'a b'])('refuses %j', (path) => {
    expect(() => parsePath(path)).toThrow(PathError);
  });
});

describe('conditions', () => {
  const matches = (c: unknown) => compileCondition(c)(ctx).matched;

  it('supports every operator', () => {
    expect(matches({ path: 'event', eq: 'push' })).toBe(true);
    expect(matches({ path: 'event', neq: 'push' })).toBe(false);
    expect(matches({ path: 'body.tags', eq: ['a', 'b'] })).toBe(true);
    expect(matches({ path: 'body.ref', in: ['refs/heads/dev', 'refs/heads/main'] })).toBe(true);
    expect(matches({ path: 'body.ref', exists: true })).toBe(true);
    expect(matches({ path: 'body.n', exists: false })).toBe(true);
    expect(matches({ path: 'body.ref', prefix: 'refs/heads/' })).toBe(true);
    expect(matches({ path: 'body.ref', suffix: '/main' })).toBe(true);
    expect(matches({ path: 'body.repository.full_name', glob: 'acme/*' })).toBe(true);
    expect(matches({ path: 'body.repository.full_name', glob: 'other/?pi' })).toBe(false);
    expect(matches({ path: 'body.ref', regex: '^refs/heads/(main|master)$' })).toBe(true);
    expect(matches({ path: 'body.size', gt: 2 })).toBe(true);
    expect(matches({ path: 'body.size', lt: 3 })).toBe(false);
    expect(matches({ path: 'body.ref', gt: 'refs/a' })).toBe(true);
  });

  it('combines with and, or, not, and treats true and {} as always', () => {
    expect(
      matches({
        and: [
          { path: 'event', eq: 'push' },
          { path: 'body.ref', eq: 'refs/heads/main' },
        ],
      }),
    ).toBe(true);
    expect(
      matches({
        and: [
          { path: 'event', eq: 'push' },
          { path: 'body.ref', eq: 'refs/heads/dev' },
        ],
      }),
    ).toBe(false);
    expect(
      matches({
        or: [
          { path: 'event', eq: 'tag' },
          { path: 'body.size', gt: 1 },
        ],
      }),
    ).toBe(true);
    expect(matches({ not: { path: 'event', eq: 'push' } })).toBe(false);
    expect(matches(true)).toBe(true);
    expect(matches({})).toBe(true);
  });

  it('explains the first failing test', () => {
    const r = compileCondition({
      and: [
        { path: 'event', eq: 'push' },
        { path: 'body.ref', eq: 'refs/heads/dev' },
      ],
    })(ctx);
    expect(r).toEqual({ matched: false, failed: 'body.ref eq "refs/heads/dev" was "refs/heads/main"' });
    expect(compileCondition({ path: 'body.nope', exists: true })(ctx).failed).toBe('body.nope exists true was missing');
  });

  it.each([
    [{ path: 'event' }, 'exactly one operator'],
    [{ path: 'event', eq: 1, neq: 2 }, 'exactly one operator'],
    [{ path: 'event', like: 'x' }, 'unknown operator "like"'],
    [{ path: '__proto__.x', eq: 1 }, 'not allowed'],
    [{ and: [] }, 'non-empty array'],
    [{ and: [{ path: 'a', eq: 1 }], or: [] }, 'only key'],
    [{ path: 'a', in: 'x' }, 'must be an array'],
    [{ path: 'a', regex: '(' }, 'not a valid regular expression'],
    [{ path: 'a', regex: 'a'.repeat(300) }, 'at most 256'],
    ['yes', 'must be an object'],
  ] as Array<[unknown, string]>)('rejects malformed condition #%# (%s)', (condition, reason) => {
    expect(() => compileCondition(condition)).toThrow(ConditionError);
    expect(conditionProblem(condition)).toContain(reason);
  });

  it('runs a catastrophic regex in linear time: ^(a+)+$ over 60,000 characters answers at once', () => {
    const evil = compileCondition({ path: 'body.s', regex: '^(a+)+$' });
    // With a backtracking engine, 29 characters took 7.5 s; RE2 answers in linear time. No timing
    // assertion: the call returning at all (Jest's timeout would fail it otherwise) is the proof.
    expect(evil({ body: { s: 'a'.repeat(60_000) + '!' } })).toEqual({
      matched: false,
      failed: expect.stringContaining('regex'),
    });
    expect(evil({ body: { s: 'a'.repeat(60_000) } }).matched).toBe(true);
    // Longer than 64 KiB: no match, rather than a verdict on a truncated value.
    expect(evil({ body: { s: 'a'.repeat(70_000) } }).matched).toBe(false);
    expect(
      compileCondition({ path: 'body.s', glob: '*a*a*a*a*a*b' })({ body: { s: 'a'.repeat(10_000) } }).matched,
    ).toBe(false);
  });

  it('refuses what RE2 cannot run in linear time (lookaround, backreferences) when the condition is saved', () => {
    expect(conditionProblem({ path: 'body.s', regex: '(?=a)a' })).toContain('no lookahead');
    expect(conditionProblem({ path: 'body.s', regex: '(a)\\1' })).toContain('not a valid regular expression');
  });

  it('refuses paths outside the context when the roots are given', () => {
    expect(conditionProblem({ path: 'ref', eq: 'x' }, { roots: TRIGGER_ROOTS })).toContain(
      'must start with one of event, body, headers, query, source',
    );
    expect(conditionProblem({ path: 'body.ref', eq: 'x' }, { roots: TRIGGER_ROOTS })).toBeNull();
    expect(conditionProblem({ path: 'ref', eq: 'x' })).toBeNull();
  });
});

const arg = (t: string | { template: string; pattern?: string }) => compileTemplate(t, { kind: 'arg' });
const env = (t: string) => compileTemplate(t, { kind: 'env' });

describe('templates', () => {
  it('renders placeholders and spreads an array given alone', () => {
    const args = ['--ref={{body.ref}}', '{{headers.x-github-event}}'].map(arg);
    expect(renderArgs(args, ctx)).toEqual(['--ref=refs/heads/main', 'push']);
    expect(renderArgs([arg({ template: '{{body.args}}', pattern: '^-{1,2}[a-z]+$' })], ctx)).toEqual([
      '-a',
      '--volumes',
    ]);
  });

  it('refuses a value that does not match the declared pattern instead of passing it through', () => {
    const t = arg({ template: '{{body.args}}', pattern: '^-{1,2}[a-z]+$' });
    expect(t.render(ctx)).toEqual(['-a', '--volumes']);
    expect(() => t.render({ body: { args: ['-a', '; rm -rf /'] } })).toThrow(/does not match/);
  });

  it.each([
    ['--output=/etc/passwd', 'starts with "-"'],
    ['-rf', 'starts with "-"'],
    ['main\n--force', 'control character'],
    ['tab\there', 'control character'],
  ])('refuses option injection by default in an argument: %j', (value, reason) => {
    expect(() => arg('{{body.v}}').render({ body: { v: value } })).toThrow(reason);
    expect(() => arg('--name={{body.v}}').render({ body: { v: value } })).toThrow(reason);
    expect(() => arg('{{body.v}}').render({ body: { v: [value] } })).toThrow(reason);
  });

  it('keeps literal options and lets a declared pattern allow what the default refuses', () => {
    expect(arg('--force').render(ctx)).toEqual(['--force']);
    expect(arg('--ref={{body.ref}}').render(ctx)).toEqual(['--ref=refs/heads/main']);
    expect(arg({ template: '{{body.v}}', pattern: '^-[a-z]$' }).render({ body: { v: '-a' } })).toEqual(['-a']);
    // Env values are not argv: a multi-line commit message may go into one.
    expect(env('{{body.v}}').render({ body: { v: '-x\nsecond line' } })).toEqual(['-x\nsecond line']);
  });

  it('refuses missing values, objects, NUL bytes, bad patterns and paths outside the roots', () => {
    expect(() => arg('{{body.nope}}').render(ctx)).toThrow(TemplateError);
    expect(() => arg('{{body.repository}}').render(ctx)).toThrow(/is an object/);
    expect(() => env('{{body.s}}').render({ body: { s: 'a\u0000b' } })).toThrow(/NUL/);
    expect(() => arg({ template: '{{body.s}}', pattern: '.*' }).render({ body: { s: 'a\u0000b' } })).toThrow(/NUL/);
    expect(() => arg('{{__proto__}}')).toThrow(TemplateError);
    expect(() => arg({ template: 'x', pattern: '(' })).toThrow(/not valid/);
    expect(() => arg({ template: 'x', pattern: '^(?!-)' })).toThrow(/no lookahead/);
    expect(() => compileTemplate('{{ref}}', { kind: 'arg', roots: TRIGGER_ROOTS })).toThrow(
      /starts with one of event, body/,
    );
  });

  it('renders env values as single strings', () => {
    expect(renderEnv({ REF: env('{{body.ref}}') }, ctx)).toEqual({ REF: 'refs/heads/main' });
    expect(() => renderEnv({ ARGS: env('{{body.args}}') }, ctx)).toThrow(/one string/);
  });
});
