import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

import type { CheckResult, Readiness } from '../health.service';

/** The OpenAPI shapes of the operations endpoints (health.controller.ts). */

export class LivenessDto {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

export class CheckResultDto implements CheckResult {
  @ApiProperty({ enum: ['up', 'down'] }) status!: 'up' | 'down';
  @ApiPropertyOptional({ description: 'Why the check failed' }) error?: string;
}

@ApiExtraModels(CheckResultDto)
export class ReadinessDto implements Readiness {
  @ApiProperty({ enum: ['ok', 'unavailable'] }) status!: 'ok' | 'unavailable';
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: getSchemaPath(CheckResultDto) },
    description: 'By dependency: `database`, `redis`, and `store:<name>` for each configured secret store',
    example: { database: { status: 'up' }, redis: { status: 'up' }, 'store:local': { status: 'up' } },
  })
  checks!: Record<string, CheckResultDto>;
}
