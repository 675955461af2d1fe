import { ErrorCode, PathError, parsePath, readPath } from '@hookhub/core';
import type { SourceAnswer } from '../entities/source.entity';
import { MALFORMED_BODY } from '../http/body-parser';

/**
 * What an answer template may read. `task` and `program` are the first run's (most triggers start one);
 * `output`, `exit_code` and `succeeded` are set once a sync source's runs have finished (null before).
 */
export interface AnswerContext {
  message: string;
  receipt_id: string;
  matched: boolean;
  duplicate: boolean;
  task_ids: string[];
  tasks: Array<{ id: string; program: string; status?: string; exit_code?: number | null; output?: string }>;
  task: { id: string; program: string; status?: string; exit_code?: number | null; output?: string } | null;
  program: { id: string; name: string; number: number } | null;
  output: string | null;
  exit_code: number | null;
  succeeded: boolean | null;
  event: string | null;
  body: unknown;
  query: Record<string, string>;
}

const ROOTS = new Set<string>([
  'message',
  'receipt_id',
  'matched',
  'duplicate',
  'task_ids',
  'tasks',
  'task',
  'program',
  'output',
  'exit_code',
  'succeeded',
  'event',
  'body',
  'query',
]);

/** `{{ path }}` in a template string; the path is checked by parsePath when the template is saved. */
const PLACEHOLDER = /\{\{\s*([^{}\s]*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}\s]*)\s*\}\}$/;
/** A template is kept small: it is stored with the source and rendered on every answer. */
const MAX_TEMPLATE_BYTES = 8192;
const MAX_DEPTH = 8;

/** Problems of a saved template (empty when it is fine), each with the field it is under. */
function templateProblems(template: unknown, field: string): Array<{ field: string; error: string }> {
  const problems: Array<{ field: string; error: string }> = [];
  if (JSON.stringify(template).length > MAX_TEMPLATE_BYTES)
    return [{ field, error: `the template is larger than ${MAX_TEMPLATE_BYTES} bytes` }];
  const walk = (value: unknown, at: string, depth: number): void => {
    if (depth > MAX_DEPTH) {
      problems.push({ field: at, error: `the template nests deeper than ${MAX_DEPTH} levels` });
      return;
    }
    if (typeof value === 'string') {
      for (const [, path] of value.matchAll(PLACEHOLDER)) {
        try {
          const [root] = parsePath(path);
          if (!ROOTS.has(root))
            problems.push({ field: at, error: `{{${path}}}: "${root}" is not one of ${[...ROOTS].join(', ')}` });
        } catch (err) {
          problems.push({ field: at, error: err instanceof PathError ? err.message : String(err) });
        }
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${at}.${i}`, depth + 1));
    else if (value !== null && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) walk(v, `${at}.${k}`, depth + 1);
  };
  walk(template, field, 0);
  return problems;
}

const STATUS_FIELDS = {
  status: [200, 299],
  failed_status: [200, 599],
  unmatched_status: [200, 599],
} as const;

/** Problems of a source's `answer` (empty when it is fine), with fields under `answer.`. */
export function answerProblems(answer: SourceAnswer): Array<{ field: string; error: string }> {
  const problems: Array<{ field: string; error: string }> = [];
  for (const [name, [min, max]] of Object.entries(STATUS_FIELDS)) {
    const value = answer[name as keyof typeof STATUS_FIELDS];
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max))
      problems.push({ field: `answer.${name}`, error: `${name} must be an integer from ${min} to ${max}` });
  }
  for (const name of ['body', 'failed_body', 'unmatched_body'] as const) {
    const template: unknown = answer[name];
    if (template === undefined) continue;
    if (typeof template !== 'string' && (typeof template !== 'object' || template === null))
      problems.push({ field: `answer.${name}`, error: `${name} is a JSON object, an array or a text` });
    else problems.push(...templateProblems(template, `answer.${name}`));
  }
  for (const [code, message] of Object.entries(answer.error_messages ?? {})) {
    if (!(Object.values(ErrorCode) as string[]).includes(code))
      problems.push({ field: `answer.error_messages.${code}`, error: `${code} is not an error code` });
    else if (typeof message !== 'string' || message.length > 500)
      problems.push({ field: `answer.error_messages.${code}`, error: 'a message is a text of at most 500 characters' });
  }
  return problems;
}

/** A placeholder's value as text inside a longer string. */
function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Renders a template: a string that is one placeholder alone becomes the value itself (so
 * `"{{program.number}}"` is the number 1, not "1"; a missing value is null); placeholders inside longer
 * strings become text. Objects and arrays are rendered member by member; other values are kept.
 */
export function renderTemplate(template: unknown, context: AnswerContext): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) return readPath(context, parsePath(whole[1])) ?? null;
    return template.replace(PLACEHOLDER, (_, path: string) => asText(readPath(context, parsePath(path))));
  }
  if (Array.isArray(template)) return template.map((v) => renderTemplate(v, context));
  if (template !== null && typeof template === 'object')
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderTemplate(v, context)]));
  return template;
}

/**
 * The `simple` error style's messages: short, as the hubs Hookhub replaces worded them (the docker backup
 * server's "Invalid signature", "Method not allowed", "Invalid JSON in request body").
 */
const SIMPLE_MESSAGES: Partial<Record<string, string>> = {
  [ErrorCode.SignatureMissing]: 'Invalid signature',
  [ErrorCode.SignatureInvalid]: 'Invalid signature',
  [ErrorCode.TimestampOutOfWindow]: 'Invalid signature',
  [ErrorCode.MethodNotAllowed]: 'Method not allowed',
  [ErrorCode.IpNotAllowed]: 'Forbidden',
  [ErrorCode.RateLimited]: 'Too many requests',
  [ErrorCode.PayloadTooLarge]: 'Request body too large',
  [ErrorCode.UnsupportedMediaType]: 'Unsupported content type',
  [ErrorCode.StoreUnavailable]: 'Service unavailable',
};

/** `{"error": ...}` for an error answer of a source with the `simple` style. */
export function simpleError(code: string, message: string, overrides: Record<string, string> = {}): { error: string } {
  if (overrides[code]) return { error: overrides[code] };
  if (code === ErrorCode.BadRequest && message.startsWith(MALFORMED_BODY))
    return { error: 'Invalid JSON in request body' };
  return { error: SIMPLE_MESSAGES[code] ?? message };
}
