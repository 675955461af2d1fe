import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, sep } from 'node:path';
import { APP_CONFIG, type AppConfig, ErrorCode, SecretBox, HookhubError, type Page, isUuid } from '@hookhub/core';
import { Db } from '@hookhub/store';
import {
  type CreateProgramDto,
  type ListProgramsQueryDto,
  type ProgramDto,
  type UpdateProgramDto,
  toProgramDto,
} from '../dto/programs.dto';
import type { Program } from '../entities/program.entity';
import { forbiddenEnvName } from '../programs/forbidden-env';
import { templateProblem } from '../programs/template-problem';
import { ProgramStore } from '../stores/program.store';

interface FieldProblem {
  field: string;
  errors: string[];
}

function envContext(id: string, name: string): string {
  return `program-env:${id}:${name}`;
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * Says why `program` cannot be deleted because something still uses it, or null. Libs above tasks register
 * theirs (inbound: its rules), since tasks cannot read their tables.
 */
export type ProgramInUseCheck = (program: Program) => Promise<string | null>;

/** Programs: the allow-list of executables. Only admins change it; every definition is checked on save. */
@Injectable()
export class ProgramsService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Programs');
  private readonly inUseChecks: ProgramInUseCheck[] = [];

  constructor(
    private readonly programs: ProgramStore,
    private readonly db: Db,
    private readonly box: SecretBox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const sealed = await this.sealLegacyEnv();
    if (sealed)
      this.logger.log(`sealed the fixed env values of ${sealed} program(s) stored in clear by an earlier version`);
  }

  /** Seals env values written in clear before they were secrets (rows with `env_sealed = false`). */
  async sealLegacyEnv(): Promise<number> {
    return this.db.transaction(async (m) => {
      const rows = await this.programs.lockUnsealed(m);
      for (const row of rows) await this.programs.setSealedEnv(row.id, this.sealEnv(row.id, row.env), m);
      return rows.length;
    });
  }

  /** A program's fixed env values in clear, for the run. */
  openEnv(program: Program): Record<string, string> {
    if (!program.envSealed) return { ...program.env };
    return Object.fromEntries(
      Object.entries(program.env).map(([name, value]) => [name, this.box.open(value, envContext(program.id, name))]),
    );
  }

  private sealEnv(id: string, env: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(env).map(([name, value]) => [name, this.box.seal(value, envContext(id, name))]),
    );
  }

  async create(dto: CreateProgramDto): Promise<ProgramDto> {
    this.validate(dto, true);
    await this.ensureNameFree(dto.name);
    const id = randomUUID();
    await this.programs.insert({ id, ...this.toColumns(dto, id) } as Program);
    return toProgramDto(await this.programs.getById(id));
  }

  async update(id: string, dto: UpdateProgramDto): Promise<ProgramDto> {
    const program = await this.find(id);
    const merged: CreateProgramDto = { ...this.toDtoShape(program), ...dto };
    this.validate(merged, dto.command !== undefined || dto.cwd !== undefined);
    if (dto.name !== undefined && dto.name.toLowerCase() !== program.name.toLowerCase())
      await this.ensureNameFree(dto.name);
    // Env values are sealed to the stored row's id, whatever spelling of it the caller used.
    await this.programs.update(program.id, this.toColumns(dto, program.id));
    return toProgramDto(await this.programs.getById(id));
  }

  async get(id: string): Promise<ProgramDto> {
    return toProgramDto(await this.find(id));
  }

  async list(query: ListProgramsQueryDto): Promise<Page<ProgramDto>> {
    return this.programs.list(query, toProgramDto);
  }

  /** Registers a check run before a program is deleted: a program still in use is refused with 409. */
  checkInUseBeforeRemove(check: ProgramInUseCheck): void {
    this.inUseChecks.push(check);
  }

  async remove(id: string): Promise<ProgramDto> {
    const program = await this.find(id);
    for (const check of this.inUseChecks) {
      const problem = await check(program);
      if (problem) throw HookhubError.conflict(problem);
    }
    await this.programs.delete(id);
    return toProgramDto(program);
  }

  /** The entity, for the task and inbound services. */
  async find(id: string): Promise<Program> {
    const program = isUuid(id) ? await this.programs.findById(id) : null;
    if (!program) throw HookhubError.notFound('Program', id);
    return program;
  }

  /** The programs of `ids` that exist (a source's rules and by-id programs), in no particular order. */
  findMany(ids: readonly string[]): Promise<Program[]> {
    return this.programs.findByIds(ids);
  }

  /** Every program, by name (the configuration export). */
  findAll(): Promise<Program[]> {
    return this.programs.listAll();
  }

  async findByName(name: string): Promise<Program | null> {
    return this.programs.findByName(name);
  }

  async findByNumber(number: number): Promise<Program | null> {
    return this.programs.findByNumber(number);
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
      if (forbiddenEnvName(name))
        add(
          `env_allow.${i}`,
          `${name} is one of the hub's own settings or secrets (HOOKHUB_*, DATABASE_*, REDIS_URL, PGPASSWORD, NODE_OPTIONS, LD_*) and cannot be passed to a program`,
        );
    });
    for (const [name, value] of Object.entries(dto.env ?? {})) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) add(`env.${name}`, 'env names are letters, digits and _');
      else if (forbiddenEnvName(name))
        add(`env.${name}`, `${name} is one of the hub's own settings or secrets and cannot be set for a program`);
      else if (typeof value !== 'string') add(`env.${name}`, 'env values must be strings');
      else if (value.includes('\0')) add(`env.${name}`, 'env values cannot contain NUL');
    }
    if (problems.length)
      throw new HookhubError(ErrorCode.ValidationFailed, 'The program definition is not valid', problems);
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
    if (dto.cwd !== undefined || dto.command !== undefined)
      columns.cwd = dto.cwd || (dto.command ? dirname(dto.command) : null);
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
    set('queue', dto.queue);
    set('retryMax', dto.retry_max);
    set('retryBackoffSeconds', dto.retry_backoff_seconds);
    set('manualRun', dto.manual_run);
    set('enabled', dto.enabled);
    return columns;
  }
}
