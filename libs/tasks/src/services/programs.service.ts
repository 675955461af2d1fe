import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, sep } from 'node:path';
import { DataSource, type Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig, ErrorCode, SecretBox, HookhubError, type Page, TRIGGER_ROOTS, type TemplateInput, TemplateError, type TemplateKind, compileTemplate, containsPattern, isUuid, paginate } from '@hookhub/core';
import type { CreateProgramDto, ListProgramsQueryDto, ProgramDto, UpdateProgramDto } from '../dto/programs.dto';
import { Program } from '../entities/program.entity';

interface FieldProblem {
  field: string;
  errors: string[];
}

export function toProgramDto(p: Program): ProgramDto {
  return {
    id: p.id,
    number: p.number,
    name: p.name,
    description: p.description,
    command: p.command,
    args: p.args,
    cwd: p.cwd,
    env_allow: p.envAllow,
    env_keys: Object.keys(p.env),
    timeout_seconds: p.timeoutSeconds,
    output_cap_bytes: p.outputCapBytes,
    concurrency_limit: p.concurrencyLimit,
    concurrency_key: p.concurrencyKey,
    concurrency_policy: p.concurrencyPolicy,
    retry_max: p.retryMax,
    retry_backoff_seconds: p.retryBackoffSeconds,
    manual_run: p.manualRun,
    enabled: p.enabled,
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

/**
 * Env names a program may never receive, by allow-list or fixed value: the hub's own secrets and settings,
 * and variables that change how a process loads code.
 */
const FORBIDDEN_ENV = /^(HOOKHUB_.*|DATABASE_.*|REDIS_URL|PGPASSWORD|NODE_OPTIONS|LD_.*|DYLD_.*)$/;

export function forbiddenEnvName(name: string): boolean {
  return FORBIDDEN_ENV.test(name.toUpperCase());
}

function envContext(id: string, name: string): string {
  return `program-env:${id}:${name}`;
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** Programs: the allow-list of executables. Only admins change it; every definition is checked on save. */
@Injectable()
export class ProgramsService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Programs');
  private readonly programs: Repository<Program>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly box: SecretBox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.programs = dataSource.getRepository(Program);
  }

  async onApplicationBootstrap(): Promise<void> {
    const sealed = await this.sealLegacyEnv();
    if (sealed) this.logger.log(`sealed the fixed env values of ${sealed} program(s) stored in clear by an earlier version`);
  }

  /** Seals env values written in clear before they were secrets (rows with `env_sealed = false`). */
  async sealLegacyEnv(): Promise<number> {
    return this.dataSource.transaction(async (m) => {
      const rows = (await m.query(`SELECT id, env FROM programs WHERE NOT env_sealed FOR UPDATE SKIP LOCKED`)) as Array<{ id: string; env: Record<string, string> }>;
      for (const row of rows) {
        await m.query(`UPDATE programs SET env = $2, env_sealed = true, updated_at = now() WHERE id = $1`, [row.id, JSON.stringify(this.sealEnv(row.id, row.env))]);
      }
      return rows.length;
    });
  }

  /** A program's fixed env values in clear, for the run. */
  openEnv(program: Program): Record<string, string> {
    if (!program.envSealed) return { ...program.env };
    return Object.fromEntries(Object.entries(program.env).map(([name, value]) => [name, this.box.open(value, envContext(program.id, name))]));
  }

  private sealEnv(id: string, env: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, this.box.seal(value, envContext(id, name))]));
  }

  async create(dto: CreateProgramDto): Promise<ProgramDto> {
    this.validate(dto, true);
    await this.ensureNameFree(dto.name);
    const id = randomUUID();
    await this.programs.insert(this.programs.create({ id, ...this.toColumns(dto, id) } as Program));
    return toProgramDto(await this.programs.findOneByOrFail({ id }));
  }

  async update(id: string, dto: UpdateProgramDto): Promise<ProgramDto> {
    const program = await this.find(id);
    const merged: CreateProgramDto = { ...this.toDtoShape(program), ...dto };
    this.validate(merged, dto.command !== undefined || dto.cwd !== undefined);
    if (dto.name !== undefined && dto.name.toLowerCase() !== program.name.toLowerCase()) await this.ensureNameFree(dto.name);
    // Env values are sealed to the stored row's id, whatever spelling of it the caller used.
    await this.programs.update({ id: program.id }, this.toColumns(dto, program.id));
    return toProgramDto(await this.programs.findOneByOrFail({ id }));
  }

  async get(id: string): Promise<ProgramDto> {
    return toProgramDto(await this.find(id));
  }

  async list(query: ListProgramsQueryDto): Promise<Page<ProgramDto>> {
    const qb = this.programs.createQueryBuilder('p');
    if (query.q) qb.andWhere('p.name ILIKE :q', { q: containsPattern(query.q) });
    return paginate(qb, 'p', query, toProgramDto);
  }

  async remove(id: string): Promise<ProgramDto> {
    const program = await this.find(id);
    const [{ count }] = (await this.programs.query(`SELECT count(*)::int AS count FROM rules WHERE program_id = $1`, [id])) as Array<{ count: number }>;
    if (count > 0) throw HookhubError.conflict(`Program ${program.name} is used by ${count} rule(s); delete or change them first`);
    await this.programs.delete({ id });
    return toProgramDto(program);
  }

  /** The entity, for the task and inbound services. */
  async find(id: string): Promise<Program> {
    const program = isUuid(id) ? await this.programs.findOneBy({ id }) : null;
    if (!program) throw HookhubError.notFound('Program', id);
    return program;
  }

  async findByName(name: string): Promise<Program | null> {
    return this.programs.createQueryBuilder('p').where('lower(p.name) = lower(:name)', { name }).getOne();
  }

  async findByNumber(number: number): Promise<Program | null> {
    return this.programs.findOneBy({ number });
  }

  /** Checks the executable is allowed: absolute, a file, executable, under a program dir or listed. */
  commandProblem(command: string): string | null {
    if (!isAbsolute(command)) return 'must be an absolute path';
    let real: string;
    try {
      real = realpathSync(command);
    } catch {
      return `${command} does not exist`;
    }
    try {
      if (!statSync(real).isFile()) return `${command} is not a file`;
      accessSync(real, constants.X_OK);
    } catch {
      return `${command} is not executable`;
    }
    const realOf = (p: string): string => {
      try {
        return realpathSync(p);
      } catch {
        return p;
      }
    };
    if (this.config.tasks.programAllow.some((p) => realOf(p) === real)) return null;
    if (this.config.tasks.programDirs.some((dir) => within(real, realOf(dir)))) return null;
    return `${command} is not under HOOKHUB_PROGRAM_DIRS (${this.config.tasks.programDirs.join(', ')}) and not listed in HOOKHUB_PROGRAM_ALLOW`;
  }

  /** Throws a validation error (per-field details) when `dto` is not a valid program definition. */
  validate(dto: CreateProgramDto, checkPaths = true): void {
    const problems: FieldProblem[] = [];
    const add = (field: string, error: string) => problems.push({ field, errors: [error] });
    if (checkPaths) {
      const commandProblem = this.commandProblem(dto.command);
      if (commandProblem) add('command', commandProblem);
      if (dto.cwd) {
        if (!isAbsolute(dto.cwd)) add('cwd', 'must be an absolute path');
        else {
          try {
            if (!statSync(dto.cwd).isDirectory()) add('cwd', `${dto.cwd} is not a directory`);
          } catch {
            add('cwd', `${dto.cwd} does not exist`);
          }
        }
      }
    }
    (dto.args ?? []).forEach((t, i) => {
      const problem = templateProblem(t, 'arg');
      if (problem) add(`args.${i}`, problem);
    });
    if (dto.concurrency_key) {
      const problem = templateProblem(dto.concurrency_key, 'key');
      if (problem) add('concurrency_key', problem);
    }
    (dto.env_allow ?? []).forEach((name, i) => {
      if (forbiddenEnvName(name)) add(`env_allow.${i}`, `${name} is one of the hub's own settings or secrets (HOOKHUB_*, DATABASE_*, REDIS_URL, PGPASSWORD, NODE_OPTIONS, LD_*) and cannot be passed to a program`);
    });
    for (const [name, value] of Object.entries(dto.env ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) add(`env.${name}`, 'env names are letters, digits and _');
      else if (forbiddenEnvName(name)) add(`env.${name}`, `${name} is one of the hub's own settings or secrets and cannot be set for a program`);
      else if (typeof value !== 'string') add(`env.${name}`, 'env values must be strings');
      else if (value.includes('\0')) add(`env.${name}`, 'env values cannot contain NUL');
    }
    if (problems.length) throw new HookhubError(ErrorCode.ValidationFailed, 'The program definition is not valid', problems);
  }

  private async ensureNameFree(name: string): Promise<void> {
    if (await this.findByName(name)) throw HookhubError.conflict(`A program named ${name} already exists`);
  }

  private toDtoShape(p: Program): CreateProgramDto {
    return {
      name: p.name,
      command: p.command,
      cwd: p.cwd ?? undefined,
      args: p.args,
      env: p.env,
      env_allow: p.envAllow,
      concurrency_key: p.concurrencyKey,
    };
  }

  private toColumns(dto: Partial<CreateProgramDto>, id: string): Partial<Program> {
    const columns: Partial<Program> = {};
    const set = <K extends keyof Program>(key: K, value: Program[K] | undefined) => {
      if (value !== undefined) columns[key] = value;
    };
    set('name', dto.name);
    set('description', dto.description);
    set('command', dto.command);
    set('args', dto.args);
    // Default working directory: the program's own directory.
    if (dto.cwd !== undefined || dto.command !== undefined) columns.cwd = dto.cwd || (dto.command ? dirname(dto.command) : null);
    set('envAllow', dto.env_allow);
    if (dto.env !== undefined) {
      columns.env = this.sealEnv(id, dto.env);
      columns.envSealed = true;
    }
    set('timeoutSeconds', dto.timeout_seconds);
    set('outputCapBytes', dto.output_cap_bytes);
    set('concurrencyLimit', dto.concurrency_limit);
    set('concurrencyKey', dto.concurrency_key === '' ? null : dto.concurrency_key);
    set('concurrencyPolicy', dto.concurrency_policy);
    set('retryMax', dto.retry_max);
    set('retryBackoffSeconds', dto.retry_backoff_seconds);
    set('manualRun', dto.manual_run);
    set('enabled', dto.enabled);
    return columns;
  }
}

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
