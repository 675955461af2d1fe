import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  Audit,
  Auth,
  CreateUserDto,
  CurrentPrincipal,
  ListUsersQueryDto,
  type Principal,
  Role,
  SetPasswordDto,
  UpdateUserDto,
  UserDto,
  UserPageDto,
  UsersService,
} from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import { ParseIdPipe } from '../http/parse-id.pipe';

@ApiTags('users')
@Controller('api/users')
@Auth(Role.Admin)
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** Lists users, newest first; filter by role or by text in the username. */
  @Get()
  @ApiOperation({ summary: 'List users' })
  list(@Query() query: ListUsersQueryDto): Promise<UserPageDto> {
    return this.users.list(query);
  }

  @Post()
  @Audit('user.create', 'user')
  @ApiOperation({ summary: 'Create a user' })
  @ApiConflictResponse({ description: 'The username is taken', type: ErrorBody })
  create(@Body() dto: CreateUserDto): Promise<UserDto> {
    return this.users.create(dto);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a user' })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', ParseIdPipe) id: string): Promise<UserDto> {
    return this.users.get(id);
  }

  /** Changes a user's role or disables them. The last enabled admin cannot be demoted or disabled. */
  @Patch(':id')
  @Audit('user.update', 'user')
  @ApiOperation({ summary: 'Change role or disable' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ description: 'Would leave no enabled admin', type: ErrorBody })
  update(
    @Param('id', ParseIdPipe) id: string,
    @Body() dto: UpdateUserDto,
    @CurrentPrincipal() actor: Principal,
  ): Promise<UserDto> {
    return this.users.update(id, dto, actor);
  }

  /** Deletes a user and their API keys. You cannot delete yourself or the last enabled admin. */
  @Delete(':id')
  @HttpCode(204)
  @Audit('user.delete', 'user')
  @ApiOperation({ summary: 'Delete a user' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ type: ErrorBody })
  async remove(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() actor: Principal): Promise<void> {
    await this.users.remove(id, actor);
  }

  /** Sets a user's password; their existing tokens stop working. */
  @Put(':id/password')
  @HttpCode(204)
  @Audit('user.password_set', 'user')
  @ApiOperation({ summary: "Set a user's password" })
  @ApiNotFoundResponse({ type: ErrorBody })
  async setPassword(@Param('id', ParseIdPipe) id: string, @Body() dto: SetPasswordDto): Promise<void> {
    await this.users.setPassword(id, dto);
  }
}
