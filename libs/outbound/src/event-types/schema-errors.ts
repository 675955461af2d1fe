import type { ErrorObject } from 'ajv';

/** Schema errors as validation details: `data.status: must be equal to one of the allowed values`. */
export function schemaErrors(errors: ErrorObject[] | null | undefined): Array<{ field: string; errors: string[] }> {
  return (errors ?? []).map((e) => ({
    field: `data${e.instancePath.replace(/\//g, '.')}`,
    errors: [e.message ?? 'is not valid'],
  }));
}
