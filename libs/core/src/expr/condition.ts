import { type PathError, parsePath, readPath } from './path';
import { type LinearRegExp, PatternError, globMatcher, linearRegExp } from './regex';

/**
 * The JSON condition language of inbound rules and outbound payload filters. No eval, no JSONPath:
 *
 * - combinators: `{"and": [c, ...]}`, `{"or": [c, ...]}`, `{"not": c}`
 * - a test: `{"path": "body.ref", "<op>": value}` with exactly one operator:
 *   `eq`, `neq` (any JSON value), `in` (array), `exists` (boolean), `prefix`, `suffix`, `glob` (string;
 *   `*` any run, `?` one character), `regex` (string, at most 256 characters, RE2 syntax: linear time),
 *   `gt`, `lt` (number or string).
 * - `true` or `{}` matches everything.
 *
 * Paths start at the evaluation context (`event`, `body`, `headers`, `query`, `source`).
 */
export type Condition = boolean | ConditionObject;

/** What a trigger's conditions and templates read: the keys of the context inbound rules are evaluated on. */
export const TRIGGER_ROOTS: readonly string[] = ['event', 'body', 'headers', 'query', 'source'];
export interface ConditionObject {
  and?: Condition[];
  or?: Condition[];
  not?: Condition;
  path?: string;
  eq?: unknown;
  neq?: unknown;
  in?: unknown[];
  exists?: boolean;
  prefix?: string;
  suffix?: string;
  glob?: string;
  regex?: string;
  gt?: number | string;
  lt?: number | string;
}

export const CONDITION_OPERATORS = [
  'eq',
  'neq',
  'in',
  'exists',
  'prefix',
  'suffix',
  'glob',
  'regex',
  'gt',
  'lt',
] as const;
export type ConditionOperator = (typeof CONDITION_OPERATORS)[number];
export const MAX_REGEX_LENGTH = 256;
/** A longer value does not match a regex or glob (linear time, but still bounded work per test). */
export const MAX_REGEX_INPUT = 64 * 1024;
const MAX_DEPTH = 12;
const MAX_NODES = 200;

/** A condition that does not follow the grammar; `at` points into it (`and.1.path`). */
export class ConditionError extends Error {
  constructor(
    readonly at: string,
    reason: string,
  ) {
    super(at ? `${at}: ${reason}` : reason);
    this.name = 'ConditionError';
  }
}

export interface ConditionResult {
  matched: boolean;
  /** When not matched: the first test that failed, in words (`body.ref eq "refs/heads/main" was "refs/heads/dev"`). */
  failed?: string;
}

type Compiled = (ctx: unknown) => ConditionResult;

export interface ConditionOptions {
  /** The names a path may start with (the evaluation context's keys); any when omitted. */
  roots?: readonly string[];
}

function show(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

function compare(value: unknown, bound: number | string, op: 'gt' | 'lt'): boolean {
  if (typeof bound === 'number') {
    const n =
      typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (Number.isNaN(n)) return false;
    return op === 'gt' ? n > bound : n < bound;
  }
  if (typeof value !== 'string') return false;
  return op === 'gt' ? value > bound : value < bound;
}

/**
 * Validates and compiles a condition once; the result is a plain function. Throws {@link ConditionError}
 * naming where the condition breaks the grammar.
 */
export function compileCondition(
  condition: unknown,
  options: ConditionOptions = {},
): (ctx: unknown) => ConditionResult {
  let nodes = 0;
  const compile = (node: unknown, at: string, depth: number): Compiled => {
    if (++nodes > MAX_NODES) throw new ConditionError(at, `a condition may have at most ${MAX_NODES} parts`);
    if (depth > MAX_DEPTH) throw new ConditionError(at, `a condition may nest at most ${MAX_DEPTH} levels`);
    if (node === true || node === undefined || node === null) return () => ({ matched: true });
    if (node === false) return () => ({ matched: false, failed: `${at || 'condition'} is false` });
    if (typeof node !== 'object' || Array.isArray(node))
      throw new ConditionError(at, 'a condition must be an object or true');
    const obj = node as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 0) return () => ({ matched: true });
    const prefix = at ? `${at}.` : '';
    if ('and' in obj || 'or' in obj) {
      const kind = 'and' in obj ? 'and' : 'or';
      if (keys.length !== 1) throw new ConditionError(at, `"${kind}" must be the only key of its object`);
      const list = obj[kind];
      if (!Array.isArray(list) || list.length === 0)
        throw new ConditionError(`${prefix}${kind}`, 'must be a non-empty array');
      const parts = list.map((c, i) => compile(c, `${prefix}${kind}.${i}`, depth + 1));
      if (kind === 'and') {
        return (ctx) => {
          for (const part of parts) {
            const r = part(ctx);
            if (!r.matched) return r;
          }
          return { matched: true };
        };
      }
      return (ctx) => {
        const failures: string[] = [];
        for (const part of parts) {
          const r = part(ctx);
          if (r.matched) return r;
          if (r.failed) failures.push(r.failed);
        }
        return { matched: false, failed: `none of: ${failures.join('; ')}` };
      };
    }
    if ('not' in obj) {
      if (keys.length !== 1) throw new ConditionError(at, '"not" must be the only key of its object');
      const inner = compile(obj.not, `${prefix}not`, depth + 1);
      return (ctx) =>
        inner(ctx).matched ? { matched: false, failed: `not(${at || 'condition'}) matched` } : { matched: true };
    }
    if (typeof obj.path !== 'string')
      throw new ConditionError(at, 'a test needs "path" (a dot path such as body.ref) and one operator');
    let segments: string[];
    try {
      segments = parsePath(obj.path);
    } catch (err) {
      throw new ConditionError(`${prefix}path`, (err as PathError).message);
    }
    if (options.roots && !options.roots.includes(segments[0])) {
      throw new ConditionError(
        `${prefix}path`,
        `"${obj.path}" must start with one of ${options.roots.join(', ')} (e.g. "${options.roots[1] ?? options.roots[0]}.${obj.path}")`,
      );
    }
    const ops = keys.filter((k) => k !== 'path');
    const unknown = ops.filter((k) => !(CONDITION_OPERATORS as readonly string[]).includes(k));
    if (unknown.length)
      throw new ConditionError(at, `unknown operator "${unknown[0]}" (use one of ${CONDITION_OPERATORS.join(', ')})`);
    if (ops.length !== 1) throw new ConditionError(at, 'a test needs exactly one operator');
    const op = ops[0] as ConditionOperator;
    const arg = obj[op];
    const path = obj.path;
    const fail = (value: unknown): ConditionResult => ({
      matched: false,
      failed: `${path} ${op} ${show(arg)} was ${show(value)}`,
    });
    const test =
      (check: (value: unknown) => boolean): Compiled =>
      (ctx) => {
        const value = readPath(ctx, segments);
        return check(value) ? { matched: true } : fail(value);
      };
    switch (op) {
      case 'eq':
        return test((v) => deepEqual(v, arg));
      case 'neq':
        return test((v) => !deepEqual(v, arg));
      case 'in':
        if (!Array.isArray(arg)) throw new ConditionError(`${prefix}in`, 'must be an array');
        return test((v) => arg.some((x) => deepEqual(v, x)));
      case 'exists':
        if (typeof arg !== 'boolean') throw new ConditionError(`${prefix}exists`, 'must be true or false');
        return test((v) => (v !== undefined && v !== null) === arg);
      case 'prefix':
      case 'suffix': {
        if (typeof arg !== 'string') throw new ConditionError(`${prefix}${op}`, 'must be a string');
        return test((v) => typeof v === 'string' && (op === 'prefix' ? v.startsWith(arg) : v.endsWith(arg)));
      }
      case 'glob': {
        if (typeof arg !== 'string' || arg.length > MAX_REGEX_LENGTH)
          throw new ConditionError(`${prefix}glob`, `must be a string of at most ${MAX_REGEX_LENGTH} characters`);
        const re = globMatcher(arg);
        return test((v) => typeof v === 'string' && v.length <= MAX_REGEX_INPUT && re.testExact(v));
      }
      case 'regex': {
        if (typeof arg !== 'string' || arg.length > MAX_REGEX_LENGTH)
          throw new ConditionError(`${prefix}regex`, `must be a string of at most ${MAX_REGEX_LENGTH} characters`);
        let re: LinearRegExp;
        try {
          re = linearRegExp(arg);
        } catch (err) {
          if (!(err instanceof PatternError)) throw err;
          throw new ConditionError(`${prefix}regex`, `is not a valid regular expression: ${err.message}`);
        }
        return test((value) => {
          const input =
            typeof value === 'string'
              ? value
              : typeof value === 'number' || typeof value === 'boolean'
                ? String(value)
                : undefined;
          return input !== undefined && input.length <= MAX_REGEX_INPUT && re.test(input);
        });
      }
      case 'gt':
      case 'lt': {
        if (typeof arg !== 'number' && typeof arg !== 'string')
          throw new ConditionError(`${prefix}${op}`, 'must be a number or a string');
        return test((v) => compare(v, arg, op));
      }
    }
  };
  return compile(condition, '', 0);
}

/** Checks a condition's grammar; returns the problem or null. */
export function conditionProblem(condition: unknown, options: ConditionOptions = {}): string | null {
  try {
    compileCondition(condition, options);
    return null;
  } catch (err) {
    if (err instanceof ConditionError) return err.message;
    throw err;
  }
}
