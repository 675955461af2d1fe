import { Body, Controller, Delete, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit, Auth, CurrentPrincipal, type Principal, Role } from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import {
  CreateProgramDto,
  ListProgramsQueryDto,
  ManualRunDto,
  ProgramDto,
  ProgramPageDto,
  ProgramsService,
  TaskRunDetailDto,
  TasksService,
  UpdateProgramDto,
} from '@hookhub/tasks';
import { ParseIdPipe } from '../http/parse-id.pipe';

@ApiTags('programs')
@Controller('api/programs')
export class ProgramsController {
  constructor(
    private readonly programs: ProgramsService,
    private readonly tasks: TasksService,
  ) {}

  /** The allow-listed programs, newest first. */
  @Get()
  @Auth(Role.Viewer, 'tasks:read')
  @ApiOperation({ summary: 'List programs' })
  list(@Query() query: ListProgramsQueryDto): Promise<ProgramPageDto> {
    return this.programs.list(query);
  }

  /** Registers an executable. It must exist, be executable and lie under HOOKHUB_PROGRAM_DIRS (or HOOKHUB_PROGRAM_ALLOW). */
  @Post()
  @Auth(Role.Admin)
  @Audit('program.create', 'program')
  @ApiOperation({ summary: 'Create a program (admin)' })
  @ApiConflictResponse({ description: 'The name is taken', type: ErrorBody })
  create(@Body() dto: CreateProgramDto): Promise<ProgramDto> {
    return this.programs.create(dto);
  }

  @Get(':id')
  @Auth(Role.Viewer, 'tasks:read')
  @ApiOperation({ summary: 'Get a program' })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', ParseIdPipe) id: string): Promise<ProgramDto> {
    return this.programs.get(id);
  }

  @Patch(':id')
  @Auth(Role.Admin)
  @Audit('program.update', 'program')
  @ApiOperation({ summary: 'Change a program (admin)' })
  @ApiNotFoundResponse({ type: ErrorBody })
  update(@Param('id', ParseIdPipe) id: string, @Body() dto: UpdateProgramDto): Promise<ProgramDto> {
    return this.programs.update(id, dto);
  }

  /** Refused (409) while rules use the program. Its past runs keep their history. */
  @Delete(':id')
  @Auth(Role.Admin)
  @Audit('program.delete', 'program')
  @ApiOperation({ summary: 'Delete a program (admin)' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ description: 'Rules still use it', type: ErrorBody })
  remove(@Param('id', ParseIdPipe) id: string): Promise<ProgramDto> {
    return this.programs.remove(id);
  }

  /** Queues a run now; `payload` is what the program's templates see as `body`. */
  @Post(':id/run')
  @Auth(Role.Operator, 'tasks:run')
  @Audit('program.run', 'program')
  @ApiOperation({ summary: 'Run a program by hand' })
  @ApiNotFoundResponse({ type: ErrorBody })
  run(
    @Param('id', ParseIdPipe) id: string,
    @Body() dto: ManualRunDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<TaskRunDetailDto> {
    return this.tasks.runManually(id, dto.payload ?? {}, principal.username);
  }
}
