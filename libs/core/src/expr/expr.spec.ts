import { ConditionError, compileCondition, conditionProblem } from './condition';
import { PathError, getPath, parsePath } from './path';
import { TemplateError, compileTemplate, renderArgs, renderEnv } from './template';

const ctx = {
  event: 'push',
  headers: { 'x-github-event': 'push' },
  body: { ref: 'refs/heads/main', size: 3, tags: ['a', 'b'], repository: { full_name: 'acme/api' }, args: ['-a', '--volumes'], n: null },
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
    expect(matches({ and: [{ path: 'event', eq: 'push' }, { path: 'body.ref', eq: 'refs/heads/main' }] })).toBe(true);
    expect(matches({ and: [{ path: 'event', eq: 'push' }, { path: 'body.ref', eq: 'refs/heads/dev' }] })).toBe(false);
    expect(matches({ or: [{ path: 'event', eq: 'tag' }, { path: 'body.size', gt: 1 }] })).toBe(true);
    expect(matches({ not: { path: 'event', eq: 'push' } })).toBe(false);
    expect(matches(true)).toBe(true);
    expect(matches({})).toBe(true);
  });

  it('explains the first failing test', () => {
    const r = compileCondition({ and: [{ path: 'event', eq: 'push' }, { path: 'body.ref', eq: 'refs/heads/dev' }] })(ctx);
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

  it('bounds a catastrophic regex in time instead of hanging', () => {
    const evil = compileCondition({ path: 'body.s', regex: '^(a+)+$' });
    const started = Date.now();
    const r = evil({ body: { s: 'a'.repeat(40) + '!' } });
    expect(r.matched).toBe(false);
    expect(r.failed).toContain('took longer than');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('templates', () => {
  it('renders placeholders and spreads an array given alone', () => {
    const args = ['--ref={{body.ref}}', '{{body.args}}', '{{headers.x-github-event}}'].map((t) => compileTemplate(t));
    expect(renderArgs(args, ctx)).toEqual(['--ref=refs/heads/main', '-a', '--volumes', 'push']);
  });

  it('refuses a value that does not match the declared pattern instead of passing it through', () => {
    const t = compileTemplate({ template: '{{body.args}}', pattern: '^-{1,2}[a-z]+$' });
    expect(t.render(ctx)).toEqual(['-a', '--volumes']);
    expect(() => t.render({ body: { args: ['-a', '; rm -rf /'] } })).toThrow(/does not match/);
  });

  it('refuses missing values, objects and NUL bytes', () => {
    expect(() => compileTemplate('{{body.nope}}').render(ctx)).toThrow(TemplateError);
    expect(() => compileTemplate('{{body.repository}}').render(ctx)).toThrow(/is an object/);
    expect(() => compileTemplate('{{body.s}}').render({ body: { s: 'a\u0000b' } })).toThrow(/does not match/);
    expect(() => compileTemplate('{{__proto__}}')).toThrow(TemplateError);
    expect(() => compileTemplate({ template: 'x', pattern: '(' })).toThrow(/not valid/);
  });

  it('renders env values as single strings', () => {
    expect(renderEnv({ REF: compileTemplate('{{body.ref}}') }, ctx)).toEqual({ REF: 'refs/heads/main' });
    expect(() => renderEnv({ ARGS: compileTemplate('{{body.args}}') }, ctx)).toThrow(/one string/);
  });
});
