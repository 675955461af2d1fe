import { Injectable, Logger, type Type } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { type Document, LineCounter, parseDocument, stringify } from 'yaml';
import { Clock, ErrorCode, HookhubError, createValidationPipe } from '@hookhub/core';
import { CreateProgramDto, ProgramsService, toProgramDto } from '@hookhub/tasks';
import { CreateRuleDto } from '../dto/rules.dto';
import { CreateSourceDto, toSourceDto } from '../dto/sources.dto';
import { ruleProblems } from '../rules/rule-problems';
import { RuleStore } from '../stores/rule.store';
import { SourceStore } from '../stores/source.store';
import { RulesService } from './rules.service';
import { SourcesService } from './sources.service';

/** A declarative file that cannot be applied: every problem, each with its line. */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`HOOKHUB_CONFIG ${file} cannot be applied:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigFileError';
  }
}

export interface ApplySummary {
  programs: { created: string[]; updated: string[] };
  sources: { created: string[]; updated: string[] };
  rules: { created: number; updated: number; deleted: number };
}

type Path = Array<string | number>;
type Item = Record<string, unknown>;

/** A checked entry of the file, with where it is. */
interface DeclaredProgram {
  path: Path;
  dto: CreateProgramDto;
}
interface DeclaredRule {
  path: Path;
  dto: CreateRuleDto;
  program: string;
}
interface DeclaredSource {
  path: Path;
  dto: CreateSourceDto;
  /** by_id_programs, by name. */
  byId: string[];
  rules: DeclaredRule[];
}

const TOP_LEVEL = ['programs', 'sources'];
/** Stands in for ids that only exist once the file is applied, so the DTOs validate. */
const PLACEHOLDER_ID = '00000000-0000-4000-8000-000000000000';
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function pathText(path: Path): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part),
    '',
  );
}

function isItem(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `secrets.0` (a validation detail's field) as path parts. */
function fieldPath(field: string): Path {
  return field.split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** Locates paths of the parsed document in the file, and words problems as `file:line: path: reason`. */
class Located {
  readonly problems: string[] = [];

  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  lineOf(path: Path): number {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return 1;
  }

  add(path: Path, message: string): void {
    this.problems.push(`${this.file}:${this.lineOf(path)}: ${pathText(path) || '(file)'}: ${message}`);
  }

  /** Adds the per-field details of a validation error under `path`, or its message. */
  addError(path: Path, err: unknown): void {
    const details =
      err instanceof HookhubError && Array.isArray(err.details)
        ? (err.details as Array<{ field: string; errors: string[] }>)
        : [];
    if (!details.length) return this.add(path, (err as Error).message);
    for (const d of details) this.add([...path, ...fieldPath(d.field)], d.errors.join('; '));
  }
}

/**
 * Sources, programs and rules declared in a YAML file (HOOKHUB_CONFIG): checked whole before anything is
 * written (every problem is reported with its line), then applied by name: programs by `name`, sources by
 * `slug`, and each listed source's rules by `name`, in file order (rules of that source not in the file are
 * deleted). Things the file does not name are left alone. `${NAME}` in secrets and program env values is
 * read from the environment, so the file holds no secrets. Also exports a running hub in the same format.
 */
@Injectable()
export class ConfigFileService {
  private readonly logger = new Logger('ConfigFile');

  constructor(
    private readonly sourceRows: SourceStore,
    private readonly ruleRows: RuleStore,
    private readonly programs: ProgramsService,
    private readonly sources: SourcesService,
    private readonly rules: RulesService,
    private readonly clock: Clock,
  ) {}

  async applyFile(file: string, env: Record<string, string | undefined> = process.env): Promise<ApplySummary> {
    const summary = await this.apply(file, readFileSync(file, 'utf8'), env);
    this.logger.log(
      `applied ${file}: programs ${summary.programs.created.length} created, ${summary.programs.updated.length} updated; ` +
        `sources ${summary.sources.created.length} created, ${summary.sources.updated.length} updated; ` +
        `rules ${summary.rules.created} created, ${summary.rules.updated} updated, ${summary.rules.deleted} deleted`,
    );
    return summary;
  }

  /**
   * A file sent through the API (`POST /api/config/apply`): `${NAME}` reads `env` (what the caller sent),
   * never the hub's own environment. With `dryRun`, the file is checked whole and what applying it would
   * change is answered, with nothing written. A file that cannot be applied is a 400 listing every problem.
   */
  async applyText(text: string, env: Record<string, string>, dryRun: boolean): Promise<ApplySummary> {
    const notText = Object.keys(env).filter((name) => typeof env[name] !== 'string');
    if (notText.length)
      throw new HookhubError(
        ErrorCode.ValidationFailed,
        'Every env value is a string',
        notText.map((name) => ({ field: `env.${name}`, errors: ['must be a string'] })),
      );
    try {
      return await this.apply('config', text, env, { dryRun });
    } catch (err) {
      if (!(err instanceof ConfigFileError)) throw err;
      throw new HookhubError(
        ErrorCode.ValidationFailed,
        `The configuration cannot be applied (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'})`,
        err.problems.map((problem) => ({ field: 'yaml', errors: [problem] })),
      );
    }
  }

  async apply(
    file: string,
    text: string,
    env: Record<string, string | undefined>,
    options: { dryRun?: boolean } = {},
  ): Promise<ApplySummary> {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
    const at = new Located(file, doc, lines);
    if (doc.errors.length) {
      throw new ConfigFileError(
        file,
        doc.errors.map((e) => `${file}:${e.linePos?.[0].line ?? 1}: ${e.message.split('\n')[0]}`),
      );
    }
    let root: unknown;
    try {
      root = doc.toJS() ?? {};
    } catch (err) {
      // The yaml library refuses documents that expand aliases too often (a "billion laughs").
      throw new ConfigFileError(file, [`${file}:1: ${(err as Error).message}`]);
    }
    const { programs, sources } = await this.check(at, root, env);
    if (at.problems.length) throw new ConfigFileError(file, at.problems);
    return options.dryRun ? this.plan(programs, sources) : this.write(at, file, programs, sources);
  }

  /** What {@link write} would do with a checked file, found by the same names, with nothing written. */
  private async plan(programs: DeclaredProgram[], sources: DeclaredSource[]): Promise<ApplySummary> {
    const summary: ApplySummary = {
      programs: { created: [], updated: [] },
      sources: { created: [], updated: [] },
      rules: { created: 0, updated: 0, deleted: 0 },
    };
    for (const { dto } of programs)
      ((await this.programs.findByName(dto.name)) ? summary.programs.updated : summary.programs.created).push(dto.name);
    for (const { dto, rules } of sources) {
      const existing = await this.sources.findBySlug(dto.slug);
      (existing ? summary.sources.updated : summary.sources.created).push(dto.slug);
      const current = existing ? (await this.rules.list(existing.id)).items : [];
      for (const { dto: rule } of rules) {
        if (current.some((r) => r.name === rule.name)) summary.rules.updated++;
        else summary.rules.created++;
      }
      summary.rules.deleted += current.filter((r) => !rules.some((x) => x.dto.name === r.name)).length;
    }
    return summary;
  }

  /** The hub's programs, sources and rules as a file for {@link apply}; secrets and env values as `${...}` references. */
  async export(): Promise<string> {
    const programs = await this.programs.findAll();
    const sources = await this.sourceRows.listAll();
    const rules = await this.ruleRows.listAll();
    const nameOf = new Map(programs.map((p) => [p.id, p.name]));
    const envName = (...parts: string[]) =>
      parts
        .join('_')
        .toUpperCase()
        .replace(/[^A-Z0-9_]/g, '_');
    const data = {
      programs: programs.map((p) => {
        const {
          id: _id,
          number: _number,
          env_keys: envKeys,
          created_at: _c,
          updated_at: _u,
          ...fields
        } = toProgramDto(p);
        return {
          ...fields,
          env: Object.fromEntries(envKeys.map((k) => [k, `\${${envName('HOOKHUB_PROGRAM', p.name, k)}}`])),
        };
      }),
      sources: sources.map((s) => {
        const {
          id: _id,
          url_path: _path,
          unverified: _u,
          secret_count: _n,
          created_at: _c,
          updated_at: _up,
          ...fields
        } = toSourceDto(s);
        return {
          ...fields,
          secrets: s.secrets.map((_, i) => `\${${envName('HOOKHUB_SOURCE', s.slug, 'SECRET', String(i + 1))}}`),
          by_id_programs: s.byIdPrograms.map((id) => nameOf.get(id) ?? id),
          rules: rules
            .filter((r) => r.sourceId === s.id)
            .map((r) => ({
              name: r.name,
              condition: r.condition,
              program: nameOf.get(r.programId) ?? r.programId,
              args: r.args,
              env: r.env,
              enabled: r.enabled,
            })),
        };
      }),
    };
    const header =
      `# Hookhub configuration exported ${this.clock.now().toISOString()}.\n` +
      '# Apply it with HOOKHUB_CONFIG=<this file>. Secrets and program env values are ${NAME} references: set those\n' +
      '# variables (or replace them) before applying.\n';
    return header + stringify(data, { lineWidth: 0 });
  }

  private async check(
    at: Located,
    root: unknown,
    env: Record<string, string | undefined>,
  ): Promise<{ programs: DeclaredProgram[]; sources: DeclaredSource[] }> {
    const programs: DeclaredProgram[] = [];
    const sources: DeclaredSource[] = [];
    if (!isItem(root)) {
      at.add([], 'the file must be a mapping with `programs` and `sources`');
      return { programs, sources };
    }
    for (const key of Object.keys(root))
      if (!TOP_LEVEL.includes(key)) at.add([key], `unknown section (expected ${TOP_LEVEL.join(' or ')})`);

    const listOf = (key: string): unknown[] => {
      const value = root[key];
      if (value === undefined || value === null) return [];
      if (!Array.isArray(value)) {
        at.add([key], 'must be a list');
        return [];
      }
      return value;
    };
    const substitute = (path: Path, value: unknown): unknown => {
      if (typeof value !== 'string') return value;
      return value.replace(ENV_REF, (whole, name: string) => {
        const found = env[name];
        if (found === undefined) at.add(path, `environment variable ${name} is not set`);
        return found ?? whole;
      });
    };

    const declared = new Map<string, { envAllow: string[] }>();
    for (const [i, raw] of listOf('programs').entries()) {
      const path: Path = ['programs', i];
      if (!isItem(raw)) {
        at.add(path, 'must be a mapping');
        continue;
      }
      const input: Item = { ...raw };
      if (isItem(raw.env))
        input.env = Object.fromEntries(
          Object.entries(raw.env).map(([k, v]) => [k, substitute([...path, 'env', k], v)]),
        );
      const dto = await this.validDto(at, path, CreateProgramDto, input);
      if (!dto) continue;
      const key = dto.name.toLowerCase();
      if (declared.has(key)) at.add([...path, 'name'], `program ${dto.name} is declared twice`);
      declared.set(key, { envAllow: dto.env_allow ?? [] });
      try {
        this.programs.validate(dto);
      } catch (err) {
        at.addError(path, err);
      }
      programs.push({ path, dto });
    }
    const programFor = async (name: string): Promise<{ name: string; envAllow: string[] } | null> => {
      const inFile = declared.get(name.toLowerCase());
      if (inFile) return { name, envAllow: inFile.envAllow };
      const existing = await this.programs.findByName(name);
      return existing ? { name: existing.name, envAllow: existing.envAllow } : null;
    };

    const slugs = new Set<string>();
    for (const [j, raw] of listOf('sources').entries()) {
      const path: Path = ['sources', j];
      if (!isItem(raw)) {
        at.add(path, 'must be a mapping');
        continue;
      }
      const { rules: rawRules, by_id_programs: byIdRaw, ...rest } = raw;
      const input: Item = { ...rest };
      if (Array.isArray(raw.secrets)) input.secrets = raw.secrets.map((s, k) => substitute([...path, 'secrets', k], s));
      const byId: string[] = [];
      if (byIdRaw !== undefined) {
        if (!Array.isArray(byIdRaw) || byIdRaw.some((n) => typeof n !== 'string'))
          at.add([...path, 'by_id_programs'], 'must be a list of program names');
        else {
          for (const [k, name] of (byIdRaw as string[]).entries()) {
            if (!(await programFor(name)))
              at.add(
                [...path, 'by_id_programs', k],
                `no program named ${name} (declare it under programs, or create it first)`,
              );
            byId.push(name);
          }
          input.by_id_programs = byId.map(() => PLACEHOLDER_ID);
        }
      }
      const dto = await this.validDto(at, path, CreateSourceDto, input);
      if (!dto) continue;
      if (slugs.has(dto.slug)) at.add([...path, 'slug'], `source ${dto.slug} is declared twice`);
      slugs.add(dto.slug);
      try {
        this.sources.validate(dto);
      } catch (err) {
        at.addError(path, err);
      }
      const rules: DeclaredRule[] = [];
      const ruleNames = new Set<string>();
      if (rawRules !== undefined && !Array.isArray(rawRules)) at.add([...path, 'rules'], 'must be a list');
      for (const [k, rawRule] of (Array.isArray(rawRules) ? rawRules : []).entries()) {
        const rulePath: Path = [...path, 'rules', k];
        if (!isItem(rawRule)) {
          at.add(rulePath, 'must be a mapping');
          continue;
        }
        const { program, position, ...ruleRest } = rawRule;
        if (position !== undefined) at.add([...rulePath, 'position'], 'rules are ordered as listed; remove position');
        if (typeof program !== 'string' || !program) {
          at.add(rulePath, 'needs `program`: the name of the program to run');
          continue;
        }
        const ruleDto = await this.validDto(at, rulePath, CreateRuleDto, { ...ruleRest, program_id: PLACEHOLDER_ID });
        if (!ruleDto) continue;
        if (ruleNames.has(ruleDto.name))
          at.add([...rulePath, 'name'], `rule ${ruleDto.name} is declared twice in this source`);
        ruleNames.add(ruleDto.name);
        const target = await programFor(program);
        if (!target)
          at.add(
            [...rulePath, 'program'],
            `no program named ${program} (declare it under programs, or create it first)`,
          );
        for (const p of ruleProblems(ruleDto, target))
          at.add([...rulePath, ...fieldPath(p.field)], p.errors.join('; '));
        rules.push({ path: rulePath, dto: ruleDto, program });
      }
      sources.push({ path, dto, byId, rules });
    }
    await this.checkAliases(at, sources);
    return { programs, sources };
  }

  /**
   * An alias belongs to one source: the file may not give one to two sources, nor one that a source it does
   * not list already has (a source it lists may give its alias up to another in the same file).
   */
  private async checkAliases(at: Located, sources: DeclaredSource[]): Promise<void> {
    const listed = new Set(sources.map((s) => s.dto.slug));
    const owner = new Map<string, string>();
    for (const { path, dto } of sources) {
      for (const [i, alias] of (dto.aliases ?? []).entries()) {
        const first = owner.get(alias);
        if (first && first !== dto.slug) at.add([...path, 'aliases', i], `${alias} is also an alias of ${first} here`);
        owner.set(alias, dto.slug);
      }
    }
    if (!owner.size) return;
    for (const holder of await this.sourceRows.holdingAliases([...owner.keys()], null)) {
      if (listed.has(holder.slug)) continue;
      for (const { path, dto } of sources)
        for (const [i, alias] of (dto.aliases ?? []).entries())
          if (holder.aliases.includes(alias) && holder.slug !== dto.slug)
            at.add([...path, 'aliases', i], `${alias} is already an alias of source ${holder.slug}`);
    }
  }

  private async validDto<T extends object>(at: Located, path: Path, type: Type<T>, input: Item): Promise<T | null> {
    try {
      return (await createValidationPipe().transform(input, { type: 'body', metatype: type })) as T;
    } catch (err) {
      at.addError(path, err);
      return null;
    }
  }

  private async write(
    at: Located,
    file: string,
    programs: DeclaredProgram[],
    sources: DeclaredSource[],
  ): Promise<ApplySummary> {
    const summary: ApplySummary = {
      programs: { created: [], updated: [] },
      sources: { created: [], updated: [] },
      rules: { created: 0, updated: 0, deleted: 0 },
    };
    // A failure here (a name taken meanwhile, the database) stops the apply; fixing it and applying again
    // converges, since everything is matched by name.
    const step = async <T>(path: Path, work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } catch (err) {
        // The database failing is not a problem of the file: it keeps its own answer (503).
        if (!(err instanceof HookhubError)) throw err;
        at.addError(path, err);
        throw new ConfigFileError(file, at.problems);
      }
    };
    // Aliases that move from one listed source to another are released first, so the taker can have them.
    const given = new Map(sources.flatMap(({ dto }) => (dto.aliases ?? []).map((a) => [a, dto.slug] as const)));
    for (const { path, dto } of given.size ? sources : []) {
      const existing = await this.sources.findBySlug(dto.slug);
      const kept = existing?.aliases.filter((a) => !given.has(a) || given.get(a) === dto.slug);
      if (existing && kept && kept.length !== existing.aliases.length)
        await step(path, () => this.sources.update(existing.id, { aliases: kept }));
    }
    // Program ids by lower-case name: the ones written here, then any other the file refers to.
    const ids = new Map<string, string>();
    const idOf = async (name: string) => ids.get(name.toLowerCase()) ?? (await this.programs.findByName(name))!.id;
    for (const { path, dto } of programs) {
      const existing = await this.programs.findByName(dto.name);
      const written = await step(path, () =>
        existing ? this.programs.update(existing.id, dto) : this.programs.create(dto),
      );
      ids.set(dto.name.toLowerCase(), written.id);
      (existing ? summary.programs.updated : summary.programs.created).push(dto.name);
    }
    for (const { path, dto, byId, rules } of sources) {
      const full: CreateSourceDto = {
        ...dto,
        ...(byId.length ? { by_id_programs: await Promise.all(byId.map(idOf)) } : {}),
      };
      const existing = await this.sources.findBySlug(dto.slug);
      const source = await step(path, () =>
        existing ? this.sources.update(existing.id, full) : this.sources.create(full),
      );
      (existing ? summary.sources.updated : summary.sources.created).push(dto.slug);
      const current = (await this.rules.list(source.id)).items;
      for (const [position, { path: rulePath, dto: ruleDto, program }] of rules.entries()) {
        // A rule is all in the file: what it leaves out takes the default, not the value it had before.
        const full: CreateRuleDto = {
          condition: true,
          args: [],
          env: {},
          enabled: true,
          ...ruleDto,
          program_id: await idOf(program),
          position,
        };
        const same = current.find((r) => r.name === ruleDto.name);
        await step(rulePath, () =>
          same ? this.rules.update(source.id, same.id, full) : this.rules.create(source.id, full),
        );
        if (same) summary.rules.updated++;
        else summary.rules.created++;
      }
      for (const stale of current.filter((r) => !rules.some((x) => x.dto.name === r.name))) {
        await step(path, () => this.rules.remove(source.id, stale.id));
        summary.rules.deleted++;
      }
    }
    return summary;
  }
}
