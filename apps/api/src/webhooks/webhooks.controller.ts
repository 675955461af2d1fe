import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Audit, Auth, CurrentPrincipal, type Principal, Role } from '@hookhub/auth';
import { ErrorBody } from '@hookhub/core';
import {
  AttemptPageDto,
  CreateWebhookDto,
  DeliveriesService,
  DeliveryDto,
  DeliveryPageDto,
  ListAttemptsQueryDto,
  ListDeliveriesQueryDto,
  ListWebhooksQueryDto,
  PatchWebhookDto,
  RecentAttemptsQueryDto,
  RecoverDto,
  RecoveredDto,
  RotateSecretDto,
  SecretRotatedDto,
  StatsQueryDto,
  WebhooksService,
  WebhookCreatedDto,
  WebhookDto,
  WebhookPageDto,
  WebhookStatsDto,
  WebhookTestResultDto,
} from '@hookhub/outbound';
import { ParseIdPipe } from '../http/parse-id.pipe';

@ApiTags('webhooks')
@Controller('api/webhooks')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly deliveries: DeliveriesService,
  ) {}

  /** Webhooks, newest first; filter by text, enabled, or an event type they would receive. */
  @Get()
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'List webhooks' })
  list(@Query() query: ListWebhooksQueryDto): Promise<WebhookPageDto> {
    return this.webhooks.list(query);
  }

  /** Subscribes a URL to event types. The answer carries the signing secret, shown only this once. */
  @Post()
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.create', 'webhook')
  @ApiOperation({ summary: 'Create a webhook' })
  @ApiCreatedResponse({ type: WebhookCreatedDto })
  @ApiBadRequestResponse({
    description: 'Invalid fields, or a URL that resolves to a refused address',
    type: ErrorBody,
  })
  create(@Body() dto: CreateWebhookDto, @CurrentPrincipal() principal: Principal): Promise<WebhookCreatedDto> {
    return this.webhooks.create(dto, principal.username);
  }

  /** Every webhook's attempts in the last `hours` (default 24), newest first, with the same filters as a webhook's logs. */
  @Get('logs/recent')
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'Recent delivery attempts of all webhooks' })
  recent(@Query() query: RecentAttemptsQueryDto): Promise<AttemptPageDto> {
    return this.deliveries.recent(query);
  }

  @Get(':id')
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'Get a webhook' })
  @ApiNotFoundResponse({ type: ErrorBody })
  get(@Param('id', ParseIdPipe) id: string): Promise<WebhookDto> {
    return this.webhooks.get(id);
  }

  /** Replaces the webhook: fields left out go back to their defaults. The secrets stay. */
  @Put(':id')
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.replace', 'webhook')
  @ApiOperation({ summary: 'Replace a webhook' })
  @ApiNotFoundResponse({ type: ErrorBody })
  replace(@Param('id', ParseIdPipe) id: string, @Body() dto: CreateWebhookDto): Promise<WebhookDto> {
    return this.webhooks.replace(id, dto);
  }

  /** Changes only the fields given. Enabling clears the disabled reason and the failing streak. */
  @Patch(':id')
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.update', 'webhook')
  @ApiOperation({ summary: 'Update a webhook' })
  @ApiNotFoundResponse({ type: ErrorBody })
  patch(@Param('id', ParseIdPipe) id: string, @Body() dto: PatchWebhookDto): Promise<WebhookDto> {
    return this.webhooks.patch(id, dto);
  }

  /** Deletes the webhook with its deliveries and logs. */
  @Delete(':id')
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.delete', 'webhook')
  @ApiOperation({ summary: 'Delete a webhook' })
  @ApiNotFoundResponse({ type: ErrorBody })
  remove(@Param('id', ParseIdPipe) id: string): Promise<WebhookDto> {
    return this.webhooks.remove(id);
  }

  /** Enables a disabled webhook or disables an enabled one. A disabled webhook gets no new events. */
  @Post(':id/toggle')
  @HttpCode(200)
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.toggle', 'webhook')
  @ApiOperation({ summary: 'Enable or disable a webhook' })
  @ApiNotFoundResponse({ type: ErrorBody })
  toggle(@Param('id', ParseIdPipe) id: string): Promise<WebhookDto> {
    return this.webhooks.toggle(id);
  }

  /** Sends a signed `webhook.test` event to this webhook now, once, and returns the attempt: status, duration, response. */
  @Post(':id/test')
  @HttpCode(200)
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.test', 'webhook')
  @ApiOperation({ summary: 'Send a test event' })
  @ApiNotFoundResponse({ type: ErrorBody })
  test(@Param('id', ParseIdPipe) id: string, @CurrentPrincipal() principal: Principal): Promise<WebhookTestResultDto> {
    return this.deliveries.test(id, principal.username);
  }

  /** Delivery attempts, newest first: filter by success, status class, event type, delivery and time. */
  @Get(':id/logs')
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'Delivery attempts of a webhook' })
  @ApiNotFoundResponse({ type: ErrorBody })
  logs(@Param('id', ParseIdPipe) id: string, @Query() query: ListAttemptsQueryDto): Promise<AttemptPageDto> {
    return this.deliveries.logs(id, query);
  }

  /** Counts, success rate and latency percentiles over a time range (default the last 24 h). */
  @Get(':id/stats')
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'Delivery stats of a webhook' })
  @ApiNotFoundResponse({ type: ErrorBody })
  stats(@Param('id', ParseIdPipe) id: string, @Query() query: StatsQueryDto): Promise<WebhookStatsDto> {
    return this.deliveries.stats(id, query);
  }

  /** Deliveries (one per event), newest first, with their status and next attempt. */
  @Get(':id/deliveries')
  @Auth(Role.Viewer, 'webhooks:read')
  @ApiOperation({ summary: 'Deliveries of a webhook' })
  @ApiNotFoundResponse({ type: ErrorBody })
  listDeliveries(
    @Param('id', ParseIdPipe) id: string,
    @Query() query: ListDeliveriesQueryDto,
  ): Promise<DeliveryPageDto> {
    return this.deliveries.listDeliveries(id, query);
  }

  /** Queues a finished delivery again now, with a fresh retry schedule. */
  @Post(':id/deliveries/:deliveryId/resend')
  @HttpCode(202)
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.resend', 'webhook')
  @ApiOperation({ summary: 'Resend a delivery' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ description: 'The delivery has not finished', type: ErrorBody })
  resend(
    @Param('id', ParseIdPipe) id: string,
    @Param('deliveryId', ParseIdPipe) deliveryId: string,
  ): Promise<DeliveryDto> {
    return this.deliveries.resend(id, deliveryId);
  }

  /** Queues again every failed delivery created in the time window (after an outage of the receiver). */
  @Post(':id/recover')
  @HttpCode(202)
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.recover', 'webhook')
  @ApiOperation({ summary: 'Recover failed deliveries' })
  @ApiNotFoundResponse({ type: ErrorBody })
  @ApiConflictResponse({ description: 'The webhook is disabled', type: ErrorBody })
  recover(@Param('id', ParseIdPipe) id: string, @Body() dto: RecoverDto): Promise<RecoveredDto> {
    return this.deliveries.recover(id, dto);
  }

  /** A new secret signs from now on; the previous one also signs during the grace period (default 24 h). The new secret is shown only now. */
  @Post(':id/secret/rotate')
  @HttpCode(200)
  @Auth(Role.Operator, 'webhooks:write')
  @Audit('webhook.secret.rotate', 'webhook')
  @ApiOperation({ summary: 'Rotate the signing secret' })
  @ApiNotFoundResponse({ type: ErrorBody })
  rotate(@Param('id', ParseIdPipe) id: string, @Body() dto: RotateSecretDto): Promise<SecretRotatedDto> {
    return this.webhooks.rotateSecret(id, dto);
  }
}
