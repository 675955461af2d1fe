import { parsePath, readPath } from './path';
import { type LinearRegExp, PatternError, linearRegExp } from './regex';

/**
 * Argument and env templates: text with `{{path}}` placeholders read from the trigger context
 * (`{{body.ref}}`, `{{headers.x-github-event}}`, `{{event}}`). A template that is exactly one placeholder
 * whose value is an array spreads into several argv elements (`{{body.args}}`). A value that breaks the
 * template's rule is refused, never passed through:
 *
 * - with a `pattern`, every produced value must match it in full (RE2 syntax, linear time);
 * - without one, an argument's placeholder values may not start with `-` (option injection such as
 *   `--output=/etc/passwd` or `-rf`) nor hold control characters (newlines included); an env value or a
 *   key may hold anything but NUL. Values are at most 4096 characters.
 */
export interface TemplateSpec {
  template: string;
  /** Regular expression each produced value must match in full. */
  pattern?: string;
}
export type TemplateInput = string | TemplateSpec;

/** `arg`: an argv element (strict default); `env`: an env value; `key`: a concurrency key. */
export type TemplateKind = 'arg' | 'env' | 'key';

export interface TemplateOptions {
  kind: TemplateKind;
  /** The names a placeholder path may start with; any when omitted. */
  roots?: readonly string[];
}

export const MAX_VALUE_LENGTH = 4096;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const CONTROL = /[\u0000-\u001f\u007f]/;
const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;
const ONLY_PLACEHOLDER = /^\{\{\s*([^{}\s]+)\s*\}\}$/;
const MAX_SPREAD = 256;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export interface CompiledTemplate {
  source: string;
  /** Renders to one or more values; throws {@link TemplateError} on a missing value or a pattern mismatch. */
  render(ctx: unknown): string[];
}

function scalar(value: unknown, placeholder: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === undefined || value === null) throw new TemplateError(`{{${placeholder}}} has no value in this trigger`);
  throw new TemplateError(
    `{{${placeholder}}} is an object; only strings, numbers and booleans (or an array spread alone) can be used`,
  );
}

function shown(value: string): string {
  return value.length > 60 ? JSON.stringify(value.slice(0, 57) + '...') : JSON.stringify(value);
}

/** Why a placeholder's value may not go into a template without a pattern, or null. */
function defaultValueProblem(value: string, kind: TemplateKind): string | null {
  if (value.includes('\u0000')) return 'holds a NUL character';
  if (hasLoneSurrogate(value)) return 'is not valid Unicode';
  if (kind !== 'arg') return null;
  if (value.startsWith('-')) return 'starts with "-" and would be read as an option';
  if (CONTROL.test(value)) return 'holds a control character (a newline, a tab ...)';
  return null;
}

/** Validates a template and its pattern once (throws TemplateError), returning a renderer. */
export function compileTemplate(input: TemplateInput, options: TemplateOptions): CompiledTemplate {
  const spec: TemplateSpec = typeof input === 'string' ? { template: input } : input;
  if (typeof spec.template !== 'string') throw new TemplateError('a template must be a string');
  if (spec.template.length > MAX_VALUE_LENGTH)
    throw new TemplateError(`a template may be at most ${MAX_VALUE_LENGTH} characters`);
  let pattern: LinearRegExp | null = null;
  if (spec.pattern !== undefined) {
    if (typeof spec.pattern !== 'string' || spec.pattern.length > 256)
      throw new TemplateError(
        `pattern ${JSON.stringify(spec.pattern)} is not valid: a string of at most 256 characters`,
      );
    try {
      pattern = linearRegExp(spec.pattern);
    } catch (err) {
      if (!(err instanceof PatternError)) throw err;
      throw new TemplateError(`pattern ${JSON.stringify(spec.pattern)} is not valid: ${err.message}`);
    }
  }
  const paths = new Map<string, string[]>();
  for (const match of spec.template.matchAll(PLACEHOLDER)) {
    let segments: string[];
    try {
      segments = parsePath(match[1]);
    } catch (err) {
      throw new TemplateError(`{{${match[1]}}}: ${(err as Error).message}`);
    }
    if (options.roots && !options.roots.includes(segments[0])) {
      throw new TemplateError(
        `{{${match[1]}}}: a placeholder starts with one of ${options.roots.join(', ')} (e.g. {{body.${match[1]}}})`,
      );
    }
    paths.set(match[1], segments);
  }
  const only = ONLY_PLACEHOLDER.exec(spec.template);
  /** A placeholder's value, checked by the default rule when the template declares no pattern. */
  const value = (raw: unknown, placeholder: string): string => {
    const text = scalar(raw, placeholder);
    if (!pattern) {
      const problem = defaultValueProblem(text, options.kind);
      if (problem) {
        throw new TemplateError(
          `value ${shown(text)} of {{${placeholder}}} ${problem}; declare a pattern on "${spec.template}" to allow such values`,
        );
      }
    }
    return text;
  };
  /** The produced value, checked against the pattern, or against the length limit. */
  const check = (produced: string): string => {
    if (produced.length > MAX_VALUE_LENGTH)
      throw new TemplateError(`the value of "${spec.template}" is longer than ${MAX_VALUE_LENGTH} characters`);
    if (produced.includes('\u0000')) throw new TemplateError(`the value of "${spec.template}" holds a NUL character`);
    if (pattern && !pattern.testExact(produced)) {
      throw new TemplateError(`value ${shown(produced)} for "${spec.template}" does not match ${spec.pattern}`);
    }
    return produced;
  };
  return {
    source: spec.template,
    render(ctx: unknown): string[] {
      if (only) {
        const raw = readPath(ctx, paths.get(only[1]) ?? []);
        if (Array.isArray(raw)) {
          if (raw.length > MAX_SPREAD) throw new TemplateError(`{{${only[1]}}} has more than ${MAX_SPREAD} elements`);
          return raw.map((v) => check(value(v, only[1])));
        }
        return [check(value(raw, only[1]))];
      }
      const text = spec.template.replace(PLACEHOLDER, (_all, path: string) =>
        value(readPath(ctx, paths.get(path) ?? []), path),
      );
      return [check(text)];
    },
  };
}

/** Renders a list of templates into argv elements (arrays spread). */
export function renderArgs(templates: readonly CompiledTemplate[], ctx: unknown): string[] {
  return templates.flatMap((t) => t.render(ctx));
}

/** Renders env templates; an array value is refused (env values are single strings). */
export function renderEnv(templates: Readonly<Record<string, CompiledTemplate>>, ctx: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, template] of Object.entries(templates)) {
    const values = template.render(ctx);
    if (values.length !== 1)
      throw new TemplateError(
        `env ${name}: "${template.source}" gives ${values.length} values; an env value must be one string`,
      );
    env[name] = values[0];
  }
  return env;
}

const LONE_SURROGATE = /\p{Cs}/gu;

/** Whether `text` holds a UTF-16 surrogate that is not half of a pair: not Unicode, and jsonb refuses it. */
export function hasLoneSurrogate(text: string): boolean {
  return /\p{Cs}/u.test(text);
}

/** Text Postgres accepts: NUL removed, lone surrogates replaced by U+FFFD. */
export function storableText(text: string): string {
  return text.replaceAll(String.fromCharCode(0), '').replace(LONE_SURROGATE, '\uFFFD');
}
