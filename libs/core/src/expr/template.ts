import { parsePath, readPath } from './path';

/**
 * Argument and env templates: text with `{{path}}` placeholders read from the trigger context
 * (`{{body.ref}}`, `{{headers.x-github-event}}`, `{{event}}`). A template that is exactly one placeholder
 * whose value is an array spreads into several argv elements (`{{body.args}}`). Every produced value must
 * match the template's pattern (default: no NUL, at most 4096 characters); a value that does not is
 * refused, never passed through.
 */
export interface TemplateSpec {
  template: string;
  /** Regular expression each produced value must match in full. */
  pattern?: string;
}
export type TemplateInput = string | TemplateSpec;

export const DEFAULT_VALUE_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]{0,4096}$';
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
  throw new TemplateError(`{{${placeholder}}} is an object; only strings, numbers and booleans (or an array spread alone) can be used`);
}

/** Validates a template and its pattern once (throws TemplateError), returning a renderer. */
export function compileTemplate(input: TemplateInput): CompiledTemplate {
  const spec: TemplateSpec = typeof input === 'string' ? { template: input } : input;
  if (typeof spec.template !== 'string') throw new TemplateError('a template must be a string');
  if (spec.template.length > 4096) throw new TemplateError('a template may be at most 4096 characters');
  let pattern: RegExp;
  try {
    const source = spec.pattern ?? DEFAULT_VALUE_PATTERN;
    if (source.length > 256) throw new Error('longer than 256 characters');
    pattern = new RegExp(source, 'u');
  } catch (err) {
    throw new TemplateError(`pattern ${JSON.stringify(spec.pattern)} is not valid: ${(err as Error).message}`);
  }
  const paths = new Map<string, string[]>();
  for (const match of spec.template.matchAll(PLACEHOLDER)) {
    try {
      paths.set(match[1], parsePath(match[1]));
    } catch (err) {
      throw new TemplateError(`{{${match[1]}}}: ${(err as Error).message}`);
    }
  }
  const only = ONLY_PLACEHOLDER.exec(spec.template);
  const check = (value: string): string => {
    const m = pattern.exec(value);
    if (!m || m[0] !== value) {
      const shown = value.length > 60 ? JSON.stringify(value.slice(0, 57) + '...') : JSON.stringify(value);
      throw new TemplateError(`value ${shown} for "${spec.template}" does not match ${spec.pattern ?? 'the default pattern (no NUL, at most 4096 characters)'}`);
    }
    return value;
  };
  return {
    source: spec.template,
    render(ctx: unknown): string[] {
      if (only) {
        const value = readPath(ctx, paths.get(only[1]) ?? []);
        if (Array.isArray(value)) {
          if (value.length > MAX_SPREAD) throw new TemplateError(`{{${only[1]}}} has more than ${MAX_SPREAD} elements`);
          return value.map((v) => check(scalar(v, only[1])));
        }
        return [check(scalar(value, only[1]))];
      }
      const text = spec.template.replace(PLACEHOLDER, (_all, path: string) => scalar(readPath(ctx, paths.get(path) ?? []), path));
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
    if (values.length !== 1) throw new TemplateError(`env ${name}: "${template.source}" gives ${values.length} values; an env value must be one string`);
    env[name] = values[0];
  }
  return env;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text Postgres accepts: NUL removed, lone surrogates replaced by U+FFFD. */
export function storableText(text: string): string {
  return text.replaceAll(String.fromCharCode(0), '').replace(LONE_SURROGATE, '\uFFFD');
}
