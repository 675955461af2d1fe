import { RE2JS } from 're2js';

/**
 * Every regular expression a user supplies (rule and payload-filter `regex`, globs, template patterns,
 * JSON Schema `pattern` and `patternProperties`) runs on RE2 (`re2js`): time linear in the input, whatever
 * the pattern, so no pattern can stall the event loop. RE2 has no lookaround and no backreferences; a
 * pattern using them is refused when it is saved.
 */
export interface LinearRegExp {
  readonly source: string;
  /** Whether the pattern matches somewhere in `input` (like RegExp.test). */
  test(input: string): boolean;
  /** Whether the pattern matches the whole of `input`. */
  testExact(input: string): boolean;
}

export class PatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatternError';
  }
}

export interface LinearRegExpOptions {
  /** `.` also matches a newline (JavaScript's `s` flag). */
  dotAll?: boolean;
}

/** Compiles `pattern` (JavaScript syntax, as far as RE2 supports it) to a linear-time matcher; throws {@link PatternError}. */
export function linearRegExp(pattern: string, options: LinearRegExpOptions = {}): LinearRegExp {
  let re: RE2JS;
  try {
    re = RE2JS.compile(RE2JS.translateRegExp(pattern), options.dotAll ? RE2JS.DOTALL : 0);
  } catch (err) {
    const reason = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new PatternError(`${reason} (patterns use RE2 syntax: no lookahead, lookbehind or backreferences)`);
  }
  return { source: pattern, test: (input) => re.test(input), testExact: (input) => re.testExact(input) };
}

/** The problem with a pattern, or null. */
export function patternProblem(pattern: string): string | null {
  try {
    linearRegExp(pattern);
    return null;
  } catch (err) {
    if (err instanceof PatternError) return err.message;
    throw err;
  }
}

/** A glob (`*` any run, `?` one character, everything else literal) as a linear-time whole-value matcher. */
export function globMatcher(glob: string): LinearRegExp {
  const source = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : RE2JS.quote(c))).join('');
  return linearRegExp(`^${source}$`, { dotAll: true });
}

type AjvRegExpEngine = ((pattern: string, flags: string) => { test: (input: string) => boolean }) & { code: string };

/** Ajv's `code.regExp`: JSON Schema `pattern` and `patternProperties` on RE2. */
export const ajvLinearRegExp: AjvRegExpEngine = Object.assign((pattern: string) => linearRegExp(pattern), {
  code: 'linearRegExp',
});
