import { type CompiledTemplate, type ConditionResult, type IpAllowList, parsePath } from '@hookhub/core';
import type { Program } from '@hookhub/tasks';
import type { Rule } from '../entities/rule.entity';
import type { Source } from '../entities/source.entity';
import { DEFAULT_CREDENTIAL_HEADERS, type Verifier } from '../verifiers';

export interface CompiledRule {
  rule: Rule;
  match: (ctx: unknown) => ConditionResult;
  program: Program;
  args: CompiledTemplate[];
  env: Record<string, CompiledTemplate>;
}

/** A source ready for the receiver: secrets opened, verifier, allow-list, rules compiled. */
export interface CompiledSource {
  source: Source;
  secrets: string[];
  verifier: Verifier;
  allow: IpAllowList | null;
  methods: Set<string>;
  contentTypes: Set<string>;
  /** Lower-case header names never stored in receipts. */
  redact: Set<string>;
  rules: CompiledRule[];
  byIdPrograms: Map<number, Program>;
  dedupPath: string[] | null;
  eventPath: string[] | null;
}

/**
 * Headers never stored in receipts, whatever the source: credentials in general, and every header any
 * verifier reads with its defaults (so a receipt of an unknown slug or of another scheme holds none either).
 */
export const ALWAYS_REDACTED: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  ...DEFAULT_CREDENTIAL_HEADERS,
]);

/** A dotted path parsed, or null when there is none. */
export function parsePathOrNull(path: string | null | undefined): string[] | null {
  return path ? parsePath(path) : null;
}
