import { TRIGGER_ROOTS, type TemplateInput, TemplateError, type TemplateKind, compileTemplate } from '@hookhub/core';

/** The problem with a template that reads a trigger's context, or null. */
export function templateProblem(t: TemplateInput, kind: TemplateKind): string | null {
  try {
    compileTemplate(t, { kind, roots: TRIGGER_ROOTS });
    return null;
  } catch (err) {
    if (err instanceof TemplateError) return err.message;
    return `not a valid template: ${(err as Error).message}`;
  }
}
