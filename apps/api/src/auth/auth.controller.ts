import { Body, Controller, Get, HttpCode, Post, Put, Req } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  Audit,
  Auth,
  AuthService,
  ChangeOwnPasswordDto,
  CurrentPrincipal,
  LoginDto,
  LoginThrottle,
  MeDto,
  type Principal,
  Public,
  Role,
  SCOPE_ANY,
  TokenDto,
  UsersService,
} from '@hookhub/auth';
import { ApiErrorExample, ErrorBody, ErrorCode } from '@hookhub/core';
import type { FastifyRequest } from 'fastify';
import { originOf } from '../http/origin';

@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly users: UsersService,
  ) {}

  /** Exchanges a username and password for a JWT. Throttled per IP and per username. */
  @Post('login')
  @Public()
  @HttpCode(200)
  @LoginThrottle()
  @ApiOperation({ summary: 'Log in' })
  @ApiErrorExample(401, {
    description: 'Wrong username or password (the same answer for both)',
    code: ErrorCode.InvalidCredentials,
    message: 'Invalid username or password',
  })
  @ApiErrorExample(429, {
    description: 'Too many attempts from this address or for this user; see Retry-After',
    code: ErrorCode.RateLimited,
    message: 'Too many login attempts from this address; try again later',
    details: { retry_after_seconds: 60 },
  })
  login(@Body() dto: LoginDto, @Req() req: FastifyRequest): Promise<TokenDto> {
    return this.auth.login(dto, originOf(req));
  }

  /** Who am I: the user (or API key) behind this request. */
  @Get('me')
  @Auth(Role.Viewer, SCOPE_ANY)
  @ApiOperation({ summary: 'The current user' })
  me(@CurrentPrincipal() principal: Principal): MeDto {
    return this.auth.me(principal);
  }

  /** Changes your own password; tokens issued before stop working. Not for API keys. */
  @Put('password')
  @HttpCode(204)
  @Auth(Role.Viewer)
  @Audit('auth.password_change', 'user')
  @ApiOperation({ summary: 'Change your password' })
  @ApiBadRequestResponse({ description: 'Current password wrong or new password too short', type: ErrorBody })
  async changePassword(@Body() dto: ChangeOwnPasswordDto, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.users.changeOwnPassword(principal.userId, dto);
  }
}
