import { posix } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import {
  type Condition,
  MAX_REGEX_LENGTH,
  TRIGGER_ROOTS,
  cidrProblem,
  conditionProblem,
  linearRegExp,
  parsePath,
  patternProblem,
} from '@hookhub/core';
import { forbiddenEnvName, templateProblem } from '@hookhub/tasks';

/**
 * Converts the hooks file of adnanh/webhook (github.com/adnanh/webhook: a JSON or YAML list of hook
 * definitions) into a Hookhub configuration file (HOOKHUB_CONFIG): one program, one source and one rule per
 * hook. Pure: no I/O. What cannot be carried over is listed in `unmapped`, what behaves differently in
 * `notes`; nothing is dropped without a word.
 *
 * - `id` becomes the source's slug and the program's name (normalized to Hookhub's slug rule).
 * - `execute-command` / `command-working-directory` become the program's `command` / `cwd`.
 * - `pass-arguments-to-command` / `pass-environment-to-command` become the rule's `args` / `env` templates
 *   (`{{body.x}}`, `{{headers.x-name}}`, `{{query.x}}`, literals); env names join the program's `env_allow`.
 * - `trigger-rule`: a `payload-hmac-*` check becomes the source's `hmac` verification and an `ip-whitelist` its
 *   `ip_allow`, when they sit at the top of the tree or in its top-level `and`; the rest becomes the rule's
 *   condition (`value` -> `eq`, `regex` -> `regex`, `and`/`or`/`not` as they are).
 * - `response-message`, `success-http-response-code`, `trigger-rule-mismatch-http-response-code`,
 *   `include-command-output-in-response[-on-error]` become the source's `answer` (and `response_mode: sync`).
 * - `http-methods` becomes the source's `methods`.
 *
 * Fail closed: a part of a trigger rule that cannot be expressed stands in the condition as the value that
 * never matches (`false`, or `true` under a `not`), and a rule whose command would not get what adnanh gave it
 * (an argument, an env value, a file, its working directory) is written with `enabled: false`.
 */

export interface ImportFinding {
  hook: string;
  field: string;
  message: string;
}

export interface AdnanhImport {
  /** A Hookhub config document in the HOOKHUB_CONFIG shape: { programs: [...], sources: [...] } (sources carry their `rules`, rules name their `program`). */
  config: { programs: Array<Record<string, unknown>>; sources: Array<Record<string, unknown>> };
  /** What could not be mapped: the hook id, the adnanh field (a path like `trigger-rule.or[1].match.type` or `pass-file-to-command`), why. */
  unmapped: ImportFinding[];
  /** Mapped, but worth the operator's attention (behaviour that differs, a source left unverified, a slug changed, ...). */
  notes: ImportFinding[];
  /** Secrets: the config refers to them as "${NAME}" in `secrets`; NAME -> value here (so a dry run can print the config without them). */
  secrets: Record<string, string>;
  hooks: number;
}

type Item = Record<string, unknown>;

/** adnanh's answer to a trigger whose rules did not match (webhook.go). */
const ADNANH_MISMATCH_BODY = 'Hook rules were not satisfied.';
/** adnanh's answer when the command failed and its output is not to be shown (webhook.go). */
const ADNANH_COMMAND_ERROR_BODY =
  "Error occurred while executing the hook's command. Please check your logs for more details.";

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A header name as Hookhub's verification options and template paths take it. */
const HEADER_NAME = /^[A-Za-z0-9-]{1,100}$/;
/** What a Hookhub template or answer body would read as a placeholder. */
const PLACEHOLDER = /\{\{\s*[^{}\s]*\s*\}\}/;
const METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'];
/** Names that suggest a value match compares a credential. */
const CREDENTIAL_NAME = /token|secret|signature|passw|api[-_]?key|auth/i;
/** The most a sync source may wait; adnanh waited for the command however long it ran. */
const SYNC_TIMEOUT_SECONDS = 600;
/** adnanh's payloads may be JSON or form fields; Hookhub parses both (but not XML or multipart). */
const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded'];

const HOOK_FIELDS = new Set([
  'id',
  'execute-command',
  'command-working-directory',
  'response-message',
  'response-headers',
  'include-command-output-in-response',
  'include-command-output-in-response-on-error',
  'pass-environment-to-command',
  'pass-arguments-to-command',
  'pass-file-to-command',
  'parse-parameters-as-json',
  'trigger-rule',
  'trigger-rule-mismatch-http-response-code',
  'trigger-signature-soft-failures',
  'incoming-payload-content-type',
  'success-http-response-code',
  'http-methods',
]);

/** Hook fields Hookhub has no counterpart for, and why. */
const UNSUPPORTED: Record<string, string> = {
  'response-headers': 'Hookhub sources cannot add headers to their answers',
  'pass-file-to-command':
    'Hookhub passes no files to programs (pass the value as an argument or an env value instead); the rule is disabled until this is settled',
  'parse-parameters-as-json':
    'Hookhub does not decode JSON held in a string value: conditions and templates that read into it find nothing',
  'incoming-payload-content-type': "Hookhub parses a body by the request's own Content-Type",
  'trigger-signature-soft-failures':
    'the signature check becomes the source verification, which refuses a bad signature before any rule is evaluated',
};

const HMAC_TYPES: Record<string, 'sha1' | 'sha256' | 'sha512'> = {
  'payload-hmac-sha1': 'sha1',
  'payload-hmac-sha256': 'sha256',
  'payload-hmac-sha512': 'sha512',
  'payload-hash-sha1': 'sha1',
  'payload-hash-sha256': 'sha256',
  'payload-hash-sha512': 'sha512',
};

/** The match fields each match type reads; adnanh ignores the others. */
const MATCH_FIELDS: Record<string, string[]> = {
  value: ['type', 'value', 'parameter'],
  regex: ['type', 'regex', 'parameter'],
  'ip-whitelist': ['type', 'ip-range'],
  'scalr-signature': ['type', 'secret'],
  ...Object.fromEntries(Object.keys(HMAC_TYPES).map((t) => [t, ['type', 'secret', 'parameter']])),
};
const ALL_MATCH_FIELDS = new Set(['type', 'regex', 'secret', 'value', 'parameter', 'ip-range']);
const RULE_KEYS = ['and', 'or', 'not', 'match'] as const;

function isItem(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Present and not the zero value adnanh treats as absent (Go's omitempty). */
function given(value: unknown): boolean {
  return (
    value !== undefined &&
    value !== null &&
    value !== false &&
    value !== '' &&
    value !== 0 &&
    !(Array.isArray(value) && value.length === 0)
  );
}

/** What the loss of a part of a trigger rule means for the condition. */
function standsFor(positive: boolean): string {
  return `it stands as ${positive ? 'false in the condition' : 'true under "not"'}, so this part never matches`;
}

const ARGUMENT_LOST = 'an empty argument keeps the later ones in place, and the rule is disabled until this is settled';
const ENV_LOST = 'the variable is not set, and the rule is disabled until this is settled';

/** `pass-arguments-to-command[2]`, `trigger-rule.and[0]`. */
const at = (path: string, index: number) => `${path}[${index}]`;

function parseHooksFile(text: string, fileName: string): unknown {
  const yamlName = /\.ya?ml$/i.test(fileName);
  if (!yamlName) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // Not JSON: adnanh reads YAML as well.
    }
  }
  // YAML 1.1, as adnanh's parser reads it: `yes` and `on` are true.
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  if (doc.errors.length) {
    const error = doc.errors[0];
    const line = lines.linePos(error.pos[0]).line;
    const template = /\{\{.*\}\}/.test(text)
      ? ' (a hooks file written for adnanh -template must be rendered before it is converted)'
      : '';
    throw new Error(
      `${fileName} is not valid ${yamlName ? 'YAML' : 'JSON or YAML'}${line ? ` (line ${line})` : ''}: ${error.message.split('\n')[0]}${template}`,
    );
  }
  return doc.toJS() as unknown;
}

/** The hooks' slugs, in file order: an id that is a valid slug keeps it, others are normalized and made distinct. */
function assignSlugs(ids: string[]): Array<{ slug: string; base: string }> {
  const taken = new Set<string>();
  const result: Array<{ slug: string; base: string } | undefined> = ids.map((id) => {
    if (!SLUG.test(id) || taken.has(id)) return undefined;
    taken.add(id);
    return { slug: id, base: id };
  });
  return ids.map((id, i) => {
    const claimed = result[i];
    if (claimed) return claimed;
    const base =
      id
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^-+/, '')
        .slice(0, 63)
        .replace(/-+$/, '') || 'hook';
    let slug = base;
    for (let n = 2; taken.has(slug); n++) slug = `${base.slice(0, 62 - String(n).length).replace(/-+$/, '')}-${n}`;
    taken.add(slug);
    return { slug, base };
  });
}

/** A request value as Hookhub reads it: a template path, or a literal text. */
type Reference = { kind: 'path'; path: string; source: string; name: string } | { kind: 'literal'; text: string };
type Usage = 'condition' | 'argument' | 'env';

class HookConversion {
  readonly unmapped: ImportFinding[] = [];
  readonly notes: ImportFinding[] = [];
  verification: { header: string; algorithm: string; encoding: 'hex'; prefix?: string } | null = null;
  private signature: { field: string; header: string; algorithm: string; secret: string } | null = null;
  secret: string | null = null;
  ipAllow: string[] | null = null;
  /** Set when the command would not get what adnanh gave it: the rule is written disabled. */
  disabled = false;

  constructor(
    private readonly hook: Item,
    private readonly id: string,
  ) {}

  lose(field: string, message: string): void {
    this.unmapped.push({ hook: this.id, field, message });
  }

  note(field: string, message: string): void {
    this.notes.push({ hook: this.id, field, message });
  }

  /** Records a part of the trigger rule that cannot be expressed; returns what stands in its place (never matches). */
  private closed(field: string, message: string, positive: boolean): Condition {
    this.lose(field, `${message}; ${standsFor(positive)}`);
    return !positive;
  }

  /** A hook field that must be a string when given; undefined when absent or not a string (then recorded). */
  text(field: string): string | undefined {
    const value = this.hook[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    this.lose(field, 'must be a string (adnanh refuses to load it otherwise)');
    return undefined;
  }

  flag(field: string): boolean {
    const value = this.hook[field];
    if (value === undefined || value === null) return false;
    if (typeof value === 'boolean') return value;
    this.lose(field, 'must be true or false (adnanh refuses to load it otherwise)');
    return false;
  }

  /** A status code field: undefined when absent (or 0, adnanh's "not set"), NaN when not an integer (recorded). */
  code(field: string): number | undefined {
    const value = this.hook[field];
    if (value === undefined || value === null || value === 0) return undefined;
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    this.lose(field, 'must be an integer HTTP status code');
    return NaN;
  }

  list(field: string): unknown[] {
    const value = this.hook[field];
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value;
    this.lose(field, 'must be a list');
    return [];
  }

  /**
   * A `{source, name}` parameter as a Hookhub path or literal; null when Hookhub cannot read it (recorded, with
   * `after`: what stands in its place).
   */
  reference(param: unknown, field: string, usage: Usage, after: string): Reference | null {
    const fail = (where: string, message: string): null => {
      this.lose(where, `${message}; ${after}`);
      return null;
    };
    if (!isItem(param)) return fail(field, 'must be an object with source and name');
    for (const key of Object.keys(param)) {
      const used = key === 'source' || key === 'name' || (key === 'envname' && usage === 'env');
      if (used || !given(param[key])) continue;
      this.lose(
        `${field}.${key}`,
        ['envname', 'base64decode'].includes(key)
          ? `not used ${usage === 'condition' ? 'in a trigger rule' : `by ${usage === 'env' ? 'an env value' : 'an argument'}`} (adnanh ignores it)`
          : 'unknown parameter field (adnanh ignores it)',
      );
    }
    const source = param.source;
    const name = param.name ?? '';
    if (typeof name !== 'string') return fail(`${field}.name`, 'must be a string');
    const path = (root: string, key: string, dots: boolean): Reference | null => {
      if (!key) return fail(`${field}.name`, `a ${String(source)} value needs a name`);
      if (!dots && key.includes('.'))
        return fail(`${field}.name`, `"${key}" holds a dot, which a Hookhub path reads as nesting`);
      const full = `${root}.${key}`;
      try {
        parsePath(full);
      } catch (err) {
        return fail(`${field}.name`, `"${key}" cannot be read by a Hookhub path: ${(err as Error).message}`);
      }
      return { kind: 'path', path: full, source: String(source), name };
    };
    switch (source) {
      case 'payload':
        return path('body', name, true);
      case 'header':
        if (name && !HEADER_NAME.test(name))
          return fail(`${field}.name`, `"${name}" is not a header name Hookhub can read`);
        return path('headers', name.toLowerCase(), false);
      case 'url':
      case 'query':
        return path('query', name, false);
      case 'string':
        return { kind: 'literal', text: name };
      case 'entire-payload':
      case 'entire-headers':
      case 'entire-query': {
        const root = { 'entire-payload': 'body', 'entire-headers': 'headers', 'entire-query': 'query' }[source];
        return fail(
          `${field}.source`,
          `Hookhub templates render strings, numbers and booleans only ({{${root}}} of an object is refused), so ${source} cannot be passed as JSON`,
        );
      }
      case 'raw-request-body':
        return fail(`${field}.source`, 'Hookhub templates cannot read the raw request body');
      case 'request':
        return fail(`${field}.source`, "Hookhub conditions and templates cannot read the request's method or address");
      default:
        return fail(
          `${field}.source`,
          source === undefined ? 'a parameter needs a source' : `unknown source ${JSON.stringify(source)}`,
        );
    }
  }

  /** A trigger rule node as a condition; null when it moved to the source (verification, IP allow-list). */
  rule(node: unknown, field: string, positive: boolean, top: boolean): Condition | null {
    if (!isItem(node)) return this.closed(field, 'a rule must be an object with and, or, not or match', positive);
    const present = RULE_KEYS.filter((k) => node[k] !== undefined && node[k] !== null);
    for (const key of Object.keys(node)) {
      if (!(RULE_KEYS as readonly string[]).includes(key))
        this.lose(`${field}.${key}`, 'unknown rule key (adnanh ignores it)');
      else if (present.length > 1 && key !== present[0] && present.includes(key as (typeof RULE_KEYS)[number]))
        this.lose(`${field}.${key}`, `adnanh reads only "${present[0]}" of this rule and ignores it`);
    }
    const kind = present[0];
    if (!kind) return false; // adnanh: a rule with none of them is false
    const value = node[kind];
    if (kind === 'not') {
      const inner = this.rule(value, `${field}.not`, !positive, false);
      return { not: inner ?? true };
    }
    if (kind === 'match') return this.match(value, `${field}.match`, positive, top);
    if (!Array.isArray(value)) return this.closed(`${field}.${kind}`, 'must be a list of rules', positive);
    const parts = value
      .map((child, i) => this.rule(child, at(`${field}.${kind}`, i), positive, top && kind === 'and'))
      .filter((c): c is Condition => c !== null);
    // adnanh: an empty `and` is true, an empty `or` false.
    if (!parts.length) return value.length && top && kind === 'and' ? null : kind === 'and';
    if (parts.length === 1) return parts[0];
    return kind === 'and' ? { and: parts } : { or: parts };
  }

  private match(node: unknown, field: string, positive: boolean, top: boolean): Condition | null {
    if (!isItem(node)) return this.closed(field, 'a match must be an object with a type', positive);
    const type = node.type;
    if (typeof type !== 'string' || !type) return this.closed(`${field}.type`, 'a match needs a type', positive);
    const reads = MATCH_FIELDS[type];
    if (!reads) {
      return this.closed(
        `${field}.type`,
        `unknown match type ${JSON.stringify(type)} (adnanh evaluates it as false)`,
        positive,
      );
    }
    for (const key of Object.keys(node)) {
      if (!ALL_MATCH_FIELDS.has(key)) this.lose(`${field}.${key}`, 'unknown match field (adnanh ignores it)');
      else if (!reads.includes(key) && given(node[key]))
        this.lose(`${field}.${key}`, `not used by a ${type} match (adnanh ignores it)`);
    }
    const algorithm = HMAC_TYPES[type];
    if (algorithm) return this.hmac(node, field, type, algorithm, positive, top);
    if (type === 'ip-whitelist') return this.ipWhitelist(node, field, positive, top);
    if (type === 'scalr-signature') {
      return this.closed(
        `${field}.type`,
        'Hookhub has no Scalr signature scheme (an HMAC-SHA1 of the body and the Date header)',
        positive,
      );
    }
    const operand = node[type];
    if (operand !== undefined && operand !== null && typeof operand !== 'string')
      return this.closed(`${field}.${type}`, 'must be a string (adnanh refuses to load it otherwise)', positive);
    const expected = (operand as string | undefined) ?? '';
    const param = this.reference(node.parameter, `${field}.parameter`, 'condition', standsFor(positive));
    if (!param) return !positive;
    if (type === 'value') {
      if (param.kind === 'literal') return param.text === expected;
      if (param.source !== 'payload' && CREDENTIAL_NAME.test(param.name)) {
        this.note(
          field,
          `the ${param.source === 'header' ? 'header' : 'query value'} ${param.name} is compared in the rule's condition: the token sits in the config in clear text (not among the secrets), and a wrong one is answered as unmatched, not refused` +
            (param.source === 'header'
              ? `; scheme token with verification.header ${param.name} would keep it among the secrets`
              : ''),
        );
      }
      // adnanh compares the text of a payload value: "true" matches the JSON true, "5" the number 5.
      if (param.source === 'payload') {
        if (expected === 'true' || expected === 'false')
          return { path: param.path, in: [expected, expected === 'true'] };
        if (expected.trim() !== '' && Number.isFinite(Number(expected)) && String(Number(expected)) === expected)
          return { path: param.path, in: [expected, Number(expected)] };
      }
      return { path: param.path, eq: expected };
    }
    // regex: unanchored, RE2 syntax, as Go's regexp.MatchString.
    if (param.kind === 'literal') {
      try {
        return linearRegExp(expected).test(param.text);
      } catch (err) {
        return this.closed(`${field}.regex`, (err as Error).message, positive);
      }
    }
    const problem =
      expected.length > MAX_REGEX_LENGTH
        ? `longer than the ${MAX_REGEX_LENGTH} characters a Hookhub regex may have`
        : patternProblem(expected);
    if (problem) return this.closed(`${field}.regex`, `not a regular expression Hookhub runs: ${problem}`, positive);
    return { path: param.path, regex: expected };
  }

  private hmac(
    node: Item,
    field: string,
    type: string,
    algorithm: 'sha1' | 'sha256' | 'sha512',
    positive: boolean,
    top: boolean,
  ): Condition | null {
    if (!top) {
      return this.closed(
        `${field}.type`,
        `a ${type} check under "or" or "not" cannot become the source's verification (Hookhub checks the signature of every request, before any rule)`,
        positive,
      );
    }
    const param = node.parameter;
    if (
      !isItem(param) ||
      param.source !== 'header' ||
      typeof param.name !== 'string' ||
      !HEADER_NAME.test(param.name)
    ) {
      return this.closed(
        `${field}.parameter`,
        `Hookhub's hmac verification reads the signature from a request header: the parameter must be {source: header, name: <header>}`,
        positive,
      );
    }
    for (const key of Object.keys(param))
      if (key !== 'source' && key !== 'name' && given(param[key]))
        this.lose(`${field}.parameter.${key}`, 'not used by a signature check (adnanh ignores it)');
    const secret = node.secret;
    if (typeof secret !== 'string' || !secret) {
      return this.closed(
        `${field}.secret`,
        'a signature check needs a secret (adnanh answered every request 500 without one)',
        positive,
      );
    }
    const header = param.name;
    if (this.signature) {
      const same =
        this.signature.header.toLowerCase() === header.toLowerCase() &&
        this.signature.algorithm === algorithm &&
        this.signature.secret === secret;
      if (same) {
        this.note(field, `the same signature check as ${this.signature.field}: checked once`);
        return null;
      }
      return this.closed(
        `${field}.type`,
        `a second signature check (the first, ${this.signature.field}, became the source's verification): a source has one verification`,
        positive,
      );
    }
    this.signature = { field, header, algorithm, secret };
    this.secret = secret;
    // GitHub (and the senders that mimic it) prefix the digest with `sha256=`; most others send it bare.
    const prefixed = header.toLowerCase().startsWith('x-hub-signature');
    this.verification = {
      header,
      algorithm,
      encoding: 'hex',
      ...(prefixed ? { prefix: `${algorithm}=` } : {}),
    };
    const form = prefixed
      ? `"${algorithm}=" followed by the hex HMAC-${algorithm.toUpperCase()} of the body; adnanh also accepted the digest without the prefix`
      : `the bare hex HMAC-${algorithm.toUpperCase()} of the body; adnanh also accepted it after a "${algorithm}=" prefix (set verification.prefix to "${algorithm}=" if the sender adds it)`;
    this.note(
      field,
      `Hookhub checks ${header} as ${form}, or several comma-separated signatures. A missing or bad signature is refused with 401 (adnanh answered 500 to a bad one, and its mismatch answer when the header was missing)`,
    );
    if (type.startsWith('payload-hash-'))
      this.note(`${field}.type`, `${type} is adnanh's deprecated name of payload-hmac-${algorithm}: mapped as that`);
    return null;
  }

  private ipWhitelist(node: Item, field: string, positive: boolean, top: boolean): Condition | null {
    if (!top) {
      return this.closed(
        `${field}.type`,
        `an ip-whitelist check under "or" or "not" cannot become the source's ip_allow (Hookhub checks the address of every request, before any rule)`,
        positive,
      );
    }
    const range = node['ip-range'];
    if (range !== undefined && range !== null && typeof range !== 'string')
      return this.closed(`${field}.ip-range`, 'must be a string of addresses or CIDRs', positive);
    const entries = (range ?? '').split(/\s+/).filter(Boolean);
    if (!entries.length)
      return this.closed(`${field}.ip-range`, 'lists no address (adnanh matched no request)', positive);
    for (const entry of entries) {
      const problem = cidrProblem(entry);
      if (problem) return this.closed(`${field}.ip-range`, `${problem} (adnanh answered every request 500)`, positive);
    }
    if (this.ipAllow) {
      return this.closed(
        `${field}.type`,
        'a second ip-whitelist check: adnanh required both, while the addresses of a source are one list (any of them is allowed)',
        positive,
      );
    }
    for (const entry of entries.filter((e) => !e.includes('/') && e.includes(':'))) {
      this.note(
        `${field}.ip-range`,
        `adnanh read the IPv6 address ${entry} as ${entry}/32 (a whole range); Hookhub allows that one address`,
      );
    }
    this.ipAllow = entries;
    this.note(
      field,
      'requests from other addresses are refused with 403 (adnanh answered them with its mismatch answer); behind a proxy, the address is the one Hookhub is configured to trust',
    );
    return null;
  }

  /** A `pass-arguments-to-command` / `pass-environment-to-command` entry as a template; null (recorded) when it cannot be one. */
  template(
    entry: unknown,
    field: string,
    usage: 'argument' | 'env',
  ): { template: string; fromRequest: boolean } | null {
    const after = usage === 'env' ? ENV_LOST : ARGUMENT_LOST;
    const ref = this.reference(entry, field, usage, after);
    if (!ref) return null;
    if (ref.kind === 'literal' && PLACEHOLDER.test(ref.text)) {
      this.lose(
        `${field}.name`,
        `the text holds {{...}}, which a Hookhub template would read as a placeholder; ${after}`,
      );
      return null;
    }
    const template = ref.kind === 'literal' ? ref.text : `{{${ref.path}}}`;
    const problem = templateProblem(template, usage === 'env' ? 'env' : 'arg');
    if (problem) {
      this.lose(field, `${problem}; ${after}`);
      return null;
    }
    return { template, fromRequest: ref.kind === 'path' };
  }
}

function convertHook(
  hook: Item,
  id: string,
  slug: string,
  base: string,
  fileName: string,
  secrets: Record<string, string>,
): { program: Item; source: Item; unmapped: ImportFinding[]; notes: ImportFinding[] } {
  const c = new HookConversion(hook, id);
  const description = `adnanh/webhook hook "${id}" (${fileName})`;

  if (slug !== base) c.note('id', `another hook already becomes ${base}, so this one is ${slug}`);
  if (slug !== id) c.note('id', `the URL changes from /hooks/${id} to /hooks/${slug}`);

  // The program.
  const program: Item = { name: slug, description: description.slice(0, 1000) };
  const command = hook['execute-command'] as string;
  const cwd = c.text('command-working-directory');
  let workdir: string | undefined;
  if (cwd !== undefined && cwd !== '') {
    if (posix.isAbsolute(cwd)) workdir = cwd;
    else {
      c.lose(
        'command-working-directory',
        `${cwd} is not an absolute path, which Hookhub needs; the rule is disabled until this is settled`,
      );
      c.disabled = true;
    }
  }
  if (posix.isAbsolute(command)) program.command = command;
  else if (cwd && posix.isAbsolute(cwd)) {
    program.command = posix.join(cwd, command);
    c.note('execute-command', `resolved against command-working-directory: ${String(program.command)}`);
  } else {
    program.command = command;
    c.lose(
      'execute-command',
      `${command} is not an absolute path (adnanh looked it up ${cwd || command.includes('/') ? 'from its own working directory' : 'in PATH'}); Hookhub runs a program by absolute path only: kept as written, so the file will not apply until it is made absolute`,
    );
    c.disabled = true;
  }
  if (workdir) program.cwd = workdir;
  c.note(
    'execute-command',
    "Hookhub runs the program without a shell and with only the env it declares (env_allow names, taken from the hub's environment, and the rule's env); adnanh passed its whole environment: add names such as PATH or HOME to env_allow if the command needs them",
  );

  // The rule's argv and env.
  const args: string[] = [];
  let argsFromRequest = false;
  c.list('pass-arguments-to-command').forEach((entry, i) => {
    const t = c.template(entry, at('pass-arguments-to-command', i), 'argument');
    if (!t) {
      c.disabled = true;
      args.push('');
      return;
    }
    argsFromRequest ||= t.fromRequest;
    args.push(t.template);
  });
  if (argsFromRequest) {
    c.note(
      'pass-arguments-to-command',
      'Hookhub refuses the run (400 run_refused) when a value is missing, is an object, starts with "-" or holds a control character (declare a pattern on the argument to allow such values), and spreads an array into several arguments; adnanh passed each value as one argument (an empty one when missing, JSON for objects and arrays)',
    );
  }
  const env: Record<string, string> = {};
  let envFromRequest = false;
  c.list('pass-environment-to-command').forEach((entry, i) => {
    const field = at('pass-environment-to-command', i);
    const t = c.template(entry, field, 'env');
    if (!t) {
      c.disabled = true;
      return;
    }
    const item = entry as Item;
    const envname = typeof item.envname === 'string' && item.envname ? item.envname : undefined;
    let name = envname ?? `HOOK_${typeof item.name === 'string' ? item.name : ''}`;
    if (!ENV_NAME.test(name)) {
      const fixed = name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
      c.note(
        `${field}.${envname ? 'envname' : 'name'}`,
        `${name} is not an env name Hookhub allows: the program gets ${fixed} instead`,
      );
      name = fixed;
    }
    if (forbiddenEnvName(name)) {
      c.lose(
        `${field}.${envname ? 'envname' : 'name'}`,
        `${name} is one of the names Hookhub never passes to a program (HOOKHUB_*, DATABASE_*, REDIS_URL, PGPASSWORD, NODE_OPTIONS, LD_*, DYLD_*); the rule is disabled until this is settled`,
      );
      c.disabled = true;
      return;
    }
    if (env[name] !== undefined) c.note(field, `${name} is set twice: the last value counts, as in adnanh`);
    env[name] = t.template;
    envFromRequest ||= t.fromRequest;
  });
  if (envFromRequest) {
    c.note(
      'pass-environment-to-command',
      'Hookhub refuses the run (400 run_refused) when a value is missing or is an object or an array; adnanh left the variable unset, or set it to the JSON text',
    );
  }
  if (Object.keys(env).length) program.env_allow = Object.keys(env);

  // The trigger rule: verification, IP allow-list, condition.
  let condition: Condition = true;
  const tree = hook['trigger-rule'];
  const hasRule = tree !== undefined && tree !== null;
  if (hasRule) {
    condition = c.rule(tree, 'trigger-rule', true, true) ?? true;
    const problem = conditionProblem(condition, { roots: TRIGGER_ROOTS });
    if (problem) {
      c.lose('trigger-rule', `the condition it makes is not valid in Hookhub: ${problem}; it stands as false`);
      condition = false;
    }
  }
  if (!c.verification) {
    c.note(
      'trigger-rule',
      `the source verifies nothing (scheme none: the hook has no payload-hmac check Hookhub could take over), so anyone who knows the URL${c.ipAllow ? ' and calls from an allowed address' : ''} can trigger it`,
    );
  }

  // Methods.
  let methods: string[] | undefined;
  const rawMethods = c.list('http-methods');
  rawMethods.forEach((m, i) => {
    const method = typeof m === 'string' ? m.trim().toUpperCase() : '';
    if (METHODS.includes(method)) methods = [...new Set([...(methods ?? []), method])];
    else
      c.lose(
        at('http-methods', i),
        `${typeof m === 'string' ? m : JSON.stringify(m)}: a source accepts ${METHODS.join(', ')}`,
      );
  });
  if (!rawMethods.length) {
    c.note(
      'http-methods',
      'the hook does not restrict methods, so adnanh accepted any (unless started with -http-methods); Hookhub accepts POST only unless methods lists others',
    );
  }

  // The answer.
  const answer: Item = {};
  const success = c.code('success-http-response-code');
  if (success === undefined) answer.status = 200;
  else if (success >= 200 && success <= 299) answer.status = success;
  else {
    answer.status = 200;
    if (!Number.isNaN(success))
      c.lose(
        'success-http-response-code',
        `${success}: Hookhub answers a trigger that started a run with 200 to 299; it answers 200`,
      );
  }
  const capture = c.flag('include-command-output-in-response');
  const onError = c.flag('include-command-output-in-response-on-error');
  const message = c.text('response-message');
  if (capture) {
    answer.body = '{{output}}';
    answer.failed_status = 500;
    answer.failed_body = onError ? '{{output}}' : ADNANH_COMMAND_ERROR_BODY;
    c.note(
      'include-command-output-in-response',
      `the source answers once the program has run: it waits up to sync_timeout_seconds (${SYNC_TIMEOUT_SECONDS}, the most Hookhub allows; a longer run is answered 202 with Hookhub's own body, and the program is stopped after its timeout_seconds, 600 by default), and {{output}} is its stdout only (adnanh answered with stdout and stderr together, however long the command ran)`,
    );
    if (message !== undefined)
      c.note(
        'response-message',
        "not used: with include-command-output-in-response adnanh answers with the command's output",
      );
  } else {
    if (message !== undefined) {
      if (PLACEHOLDER.test(message))
        c.lose('response-message', 'the text holds {{...}}, which a Hookhub answer would read as a placeholder');
      else answer.body = message;
    }
    if (onError)
      c.note(
        'include-command-output-in-response-on-error',
        'not used: adnanh reads it only with include-command-output-in-response',
      );
  }
  const mismatch = c.code('trigger-rule-mismatch-http-response-code');
  if (hasRule) {
    answer.unmatched_status = 200;
    if (mismatch !== undefined && !Number.isNaN(mismatch)) {
      if (mismatch >= 200 && mismatch <= 599) answer.unmatched_status = mismatch;
      else
        c.lose(
          'trigger-rule-mismatch-http-response-code',
          `${mismatch}: Hookhub answers an unmatched trigger with 200 to 599; it answers 200`,
        );
    }
    answer.unmatched_body = ADNANH_MISMATCH_BODY;
  } else if (mismatch !== undefined) {
    c.note('trigger-rule-mismatch-http-response-code', 'not used: the hook has no trigger-rule, so it always matches');
  }

  // Fields Hookhub has no counterpart for, and fields adnanh does not know.
  for (const key of Object.keys(hook)) {
    if (UNSUPPORTED[key] !== undefined) {
      if (!given(hook[key])) continue;
      c.lose(key, UNSUPPORTED[key]);
      if (key === 'pass-file-to-command') c.disabled = true;
    } else if (!HOOK_FIELDS.has(key)) c.lose(key, 'not an adnanh hook field (adnanh ignores it)');
  }

  const source: Item = { slug, name: id.slice(0, 200), description: description.slice(0, 2000) };
  if (c.verification && c.secret !== null) {
    const name = `ADNANH_${slug.toUpperCase().replace(/-/g, '_')}_SECRET`;
    secrets[name] = c.secret;
    source.scheme = 'hmac';
    source.verification = c.verification;
    source.secrets = [`\${${name}}`];
  } else source.scheme = 'none';
  if (c.ipAllow) source.ip_allow = c.ipAllow;
  if (methods) source.methods = methods;
  source.content_types = CONTENT_TYPES;
  if (capture) {
    source.response_mode = 'sync';
    source.sync_timeout_seconds = SYNC_TIMEOUT_SECONDS;
  }
  source.answer = answer;
  const rule: Item = { name: id.slice(0, 200), condition, program: slug };
  if (args.length) rule.args = args;
  if (Object.keys(env).length) rule.env = env;
  if (c.disabled) rule.enabled = false;
  source.rules = [rule];
  return { program, source, unmapped: c.unmapped, notes: c.notes };
}

/** Parses a hooks file (JSON, or YAML when the name ends in .yaml/.yml or the text is not JSON) and converts it. Throws an Error with a clear message when the file is not an array of hook objects. */
export function importAdnanh(text: string, fileName: string): AdnanhImport {
  const parsed = parseHooksFile(text, fileName);
  if (!Array.isArray(parsed)) {
    const got =
      parsed === null || parsed === undefined
        ? 'nothing'
        : typeof parsed === 'object'
          ? 'an object'
          : `a ${typeof parsed}`;
    throw new Error(`${fileName} is not an adnanh hooks file: it must be a list of hook objects (got ${got})`);
  }
  const ids = parsed.map((hook, i) => {
    if (!isItem(hook)) throw new Error(`${fileName}: hook #${i + 1} is not an object`);
    const id = hook.id;
    if (id !== undefined && id !== null && typeof id !== 'string')
      throw new Error(`${fileName}: hook #${i + 1}: its id must be a string (got ${JSON.stringify(id)}; quote it)`);
    if (typeof id !== 'string' || !id.trim()) throw new Error(`${fileName}: hook #${i + 1} has no id`);
    const command = hook['execute-command'];
    if (typeof command !== 'string' || !command.trim())
      throw new Error(`${fileName}: hook "${id}" (#${i + 1}) has no execute-command`);
    return id;
  });
  const slugs = assignSlugs(ids);
  const result: AdnanhImport = {
    config: { programs: [], sources: [] },
    unmapped: [],
    notes: [],
    secrets: {},
    hooks: parsed.length,
  };
  parsed.forEach((hook, i) => {
    const converted = convertHook(hook as Item, ids[i], slugs[i].slug, slugs[i].base, fileName, result.secrets);
    result.config.programs.push(converted.program);
    result.config.sources.push(converted.source);
    result.unmapped.push(...converted.unmapped);
    result.notes.push(...converted.notes);
  });
  return result;
}
