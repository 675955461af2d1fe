import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidateBy, ValidateIf, type ValidationOptions, buildMessage } from 'class-validator';
import { ErrorCode, HookhubError } from '../errors/error-codes';
import { hasLoneSurrogate } from '../expr/template';

export interface FieldError {
  field: string;
  errors: string[];
}

/** Flattens class-validator's nested errors into `{field: 'a.b[0].c', errors}` entries. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = parent
      ? /^\d+$/.test(error.property)
        ? `${parent}[${error.property}]`
        : `${parent}.${error.property}`
      : error.property;
    if (error.constraints && Object.keys(error.constraints).length) {
      out.push({ field, errors: Object.values(error.constraints) });
    }
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}

/** The global validation pipe: whitelist, forbid unknown fields, transform, per-field details on 400. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    stopAtFirstError: false,
    exceptionFactory: (errors) =>
      new HookhubError(ErrorCode.ValidationFailed, 'Request validation failed', flattenValidationErrors(errors)),
  });
}

/** For `@Transform`: a query string's `true` / `false` as booleans (anything else is left for the validator to refuse). */
export function queryBoolean({ value }: { value: unknown }): unknown {
  return value === 'true' ? true : value === 'false' ? false : value;
}

/** The deepest nesting of objects and arrays the admin API accepts in a body. */
export const MAX_INPUT_DEPTH = 32;

/**
 * What no admin API input may hold, whatever the endpoint: a NUL character (Postgres cannot store it in
 * text or jsonb), a lone UTF-16 surrogate (jsonb refuses it: conditions, filters, schemas and argument lists
 * answered 500, and the audit entry of every change holding one was lost; text columns silently stored
 * U+FFFD instead) or objects nested deeper than {@link MAX_INPUT_DEPTH}. Walks without recursion, so a
 * hostile nesting cannot overflow the stack. Returns the offending field and why, or null.
 */
export function inputProblem(value: unknown, root: string): FieldError | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: root, depth: 0 }];
  while (stack.length) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000'))
        return { field: path, errors: [`${path} holds a NUL character (\\u0000), which cannot be stored`] };
      if (hasLoneSurrogate(v))
        return {
          field: path,
          errors: [
            `${path} holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode and cannot be stored`,
          ],
        };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH)
      return { field: path, errors: [`${path} nests deeper than ${MAX_INPUT_DEPTH} levels`] };
    for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
      const childPath = Array.isArray(v) ? `${path}[${key}]` : `${path}.${key}`;
      if (key.includes('\u0000')) return { field: path, errors: [`${path} has a key with a NUL character (\\u0000)`] };
      if (hasLoneSurrogate(key))
        return { field: path, errors: [`${path} has a key with a lone UTF-16 surrogate (\\ud800-\\udfff)`] };
      stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return null;
}

/** `YYYY-MM-DD`, optionally `THH:MM[:SS[.fraction]]` with `Z` or an offset `±HH:MM` / `±HHMM`. */
const TIMESTAMP_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?)?$/i;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether `value` is an ISO 8601 time that JavaScript's Date and Postgres both read, as the same instant: a
 * date that exists (no February 30) in the years 1-9999, hours 0-23, minutes and seconds 0-59, an offset
 * within ±15:59. class-validator's IsISO8601 also passes `2026-11-23T`, `0000-01-01`, `2026-02-30` or
 * `2026-W48-1`, which the store refuses: a 500 where a 400 was due.
 */
export function isTimestamp(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = TIMESTAMP_PATTERN.exec(value);
  if (!match) return false;
  const [year, month, day, hour = 0, minute = 0, second = 0, offsetHours = 0, offsetMinutes = 0] = match
    .slice(1)
    .map((part) => (part === undefined ? undefined : Number(part)));
  if (year === undefined || month === undefined || day === undefined || year < 1 || month < 1 || month > 12 || day < 1)
    return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1])) return false;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 15 || offsetMinutes > 59) return false;
  return !Number.isNaN(Date.parse(value));
}

/** For a query or body field holding a time: see {@link isTimestamp}. */
export function IsTimestamp(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTimestamp',
      validator: {
        validate: (value: unknown) => isTimestamp(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property must be an ISO 8601 time that exists, e.g. 2026-11-23T12:00:00Z`,
          options,
        ),
      },
    },
    options,
  );
}

/**
 * For an optional field that has no null value: left out, it is not validated; sent as `null`, it is validated
 * like any other value, so its type check refuses it (400). class-validator's IsOptional lets null through
 * unchecked, and services that take "given" to mean "not undefined" wrote it into NOT NULL columns or read
 * properties of it (a 500). Fields where null means something (clear a filter, drop a schema) keep IsOptional;
 * PartialType of a DTO using this needs `{ skipNullProperties: false }`, or it adds IsOptional back.
 */
export function IsOmittable(options?: ValidationOptions): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined, options);
}
