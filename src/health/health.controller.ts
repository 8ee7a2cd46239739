import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

import { Public } from '../auth/decorators';
import { ApiOp } from '../common/http/api-docs';
import { MetricsService } from '../common/metrics/metrics.service';
import { LivenessDto, ReadinessDto } from './dto/health.dto';
import { HealthService, Readiness } from './health.service';

@ApiTags('operations')
// No token: `security: []` says so to clients and linters alike.
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly metrics: MetricsService,
  ) {}

  /** Liveness: the process serves HTTP. */
  @Get('health')
  @ApiOp('getLiveness', 'Liveness: the process serves HTTP', { security: [] })
  @ApiOkResponse({ type: LivenessDto })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: the database, Redis and every configured secret store answer. */
  @Get('health/ready')
  @ApiOp('getReadiness', 'Readiness: the database, Redis and every configured secret store answer', { security: [] })
  @ApiOkResponse({ type: ReadinessDto, description: 'Every check is up' })
  @ApiServiceUnavailableResponse({ type: ReadinessDto, description: 'A check is down: take this replica out of the load balancer' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<Readiness> {
    const readiness = await this.health.readiness();
    void reply.status(readiness.status === 'ok' ? 200 : 503);
    return readiness;
  }

  @Get('metrics')
  @ApiOp('getMetrics', 'Prometheus metrics of this process', { security: [] })
  @ApiProduces('text/plain')
  @ApiOkResponse({ content: { 'text/plain': { schema: { type: 'string' } } }, description: 'Prometheus text exposition format 0.0.4' })
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
