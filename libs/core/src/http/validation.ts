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
