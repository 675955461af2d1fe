import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The JSON body of every error response. */
export class ErrorBody {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request', description: 'The HTTP reason phrase.' })
  error!: string;

  @ApiProperty({ example: 'validation_failed', description: 'A stable machine-readable error code.' })
  code!: string;

  @ApiProperty({ example: 'Request validation failed' })
  message!: string;

  @ApiPropertyOptional({
    description: 'Structured details, e.g. per-field validation errors.',
    // A list of per-field errors on a 400, an object elsewhere (e.g. a 429's retry_after_seconds).
    oneOf: [
      { type: 'array', items: { type: 'object', additionalProperties: true } },
      { type: 'object', additionalProperties: true },
    ],
    example: [{ field: 'username', errors: ['username must be a string'] }],
  })
  details?: unknown;

  @ApiProperty({
    example: '0f0c3e5e-3c1f-4a51-9d5e-7f7b3c1a9e20',
    description: 'The request id, also in the X-Request-Id header.',
  })
  requestId!: string;

  @ApiPropertyOptional({
    example: 'b1d2...',
    description: 'Present on 500 errors: quote it when reporting the problem.',
  })
  errorId?: string;
}
