import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ErrorCode, HookhubError } from '../errors/error-codes';

export interface FieldError {
  field: string;
  errors: string[];
}

/** Flattens class-validator's nested errors into `{field: 'a.b[0].c', errors}` entries. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = parent ? (/^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`) : error.property;
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
 * text or jsonb) or objects nested deeper than {@link MAX_INPUT_DEPTH}. Walks without recursion, so a
 * hostile nesting cannot overflow the stack. Returns the offending field and why, or null.
 */
export function inputProblem(value: unknown, root: string): FieldError | null {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: root, depth: 0 }];
  while (stack.length) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { field: path, errors: [`${path} holds a NUL character (\\u0000), which cannot be stored`] };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) return { field: path, errors: [`${path} nests deeper than ${MAX_INPUT_DEPTH} levels`] };
    for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
      const childPath = Array.isArray(v) ? `${path}[${key}]` : `${path}.${key}`;
      if (key.includes('\u0000')) return { field: path, errors: [`${path} has a key with a NUL character (\\u0000)`] };
      stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return null;
}
