import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import type { RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { AfterCommit } from '../common/db/after-commit';
import { ConflictError, NotFoundError } from '../common/errors/domain-error';
import { mapPage, Page } from '../common/pagination/pagination';
import { DeliveriesRepository, type DeliverySummaryRow } from './deliveries.repository';
import { DeliveryQueue } from './delivery-queue';
import type { DeliveryDto } from './dto/gateway.dto';
import { DeliveryEntity, DeliveryStatus } from './entities/delivery.entity';
import { GatewaysService } from './gateways.service';

/** A delivery as the API shows it; other modules (revocation's propagation status) read it under this name. */
export type DeliveryView = DeliveryDto;
export type { DeliverySummaryRow };

export interface DeliveryListQuery {
  status?: DeliveryStatus;
  gatewayId?: string;
  limit?: number;
  cursor?: string;
}

@Injectable()
export class DeliveriesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: DeliveriesRepository,
    private readonly gateways: GatewaysService,
    private readonly queue: DeliveryQueue,
    private readonly afterCommit: AfterCommit,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  async listForGateway(gatewayId: string, query: DeliveryListQuery): Promise<Page<DeliveryView>> {
    await this.gateways.find(gatewayId);
    return this.list({ ...query, gatewayId });
  }

  /** Newest first; `status=failed` is the list of deliveries that gave up (each retryable). */
  async list(query: DeliveryListQuery): Promise<Page<DeliveryView>> {
    return mapPage(await this.repository.list(query), toDeliveryView);
  }

  /** The deliveries of some events (a revocation's), oldest first. */
  async forEvents(eventIds: string[]): Promise<DeliveryView[]> {
    if (eventIds.length === 0) return [];
    return (await this.repository.forEvents(eventIds)).map(toDeliveryView);
  }

  /** Deliveries of some events (a revocation's) counted per target; `withIds` lists each target's delivery ids too. */
  async summaryByTarget(eventIds: string[], withIds = false): Promise<DeliverySummaryRow[]> {
    if (eventIds.length === 0) return [];
    return this.repository.summaryByTarget(eventIds, withIds);
  }

  /** Pending and failed deliveries per group of events (each revocation's, for a list). */
  async statusCountsByGroup(
    events: Array<{ eventId: string; group: string }>,
  ): Promise<Map<string, { total: number; pending: number; failed: number }>> {
    if (events.length === 0) return new Map();
    return this.repository.statusCountsByGroup(events);
  }

  /**
   * Starts a failed delivery over with a fresh retry schedule. Refused when a
   * later event of the same credential already went to that gateway: sending
   * the older one now would undo it there (an `issued` after a `revoked`).
   */
  async retry(ctx: RequestContext, id: string): Promise<DeliveryView> {
    return this.dataSource.transaction(async (em) => {
      const delivery = await this.repository.lockForChange(em, id);
      if (!delivery) throw new NotFoundError('delivery', id);
      if (delivery.status !== 'failed') {
        throw new ConflictError('DELIVERY_NOT_FAILED', `This delivery is ${delivery.status}; only failed deliveries can be retried.`);
      }
      if (delivery.gatewayId) {
        const gateway = await this.gateways.findIn(em, delivery.gatewayId);
        if (gateway?.status !== 'active') {
          throw new ConflictError('GATEWAY_DISABLED', 'The gateway of this delivery is disabled; enable it first.');
        }
      }
      if (delivery.credentialId) {
        if (await this.repository.laterEventExists(em, delivery)) {
          throw new ConflictError(
            'DELIVERY_SUPERSEDED',
            'A later event of this credential was already sent to this target; it carries the current state.',
          );
        }
      }
      const now = this.clock.now();
      const previous = { attempts: delivery.attempts, lastError: delivery.lastError, failedAt: delivery.failedAt?.toISOString() ?? null };
      Object.assign(delivery, { status: 'pending', retryStep: 0, nextAttemptAt: now, failedAt: null, updatedAt: now });
      await this.repository.restart(em, id, now);
      await this.audit.record(em, ctx, { action: 'delivery.retried', targetType: 'delivery', targetId: id, data: previous });
      this.afterCommit.run(em, () => this.queue.wakeFor([delivery]));
      return toDeliveryView(delivery);
    });
  }
}

export function toDeliveryView(d: DeliveryEntity): DeliveryView {
  const iso = (v: Date | null) => (v ? new Date(v).toISOString() : null);
  return {
    id: d.id,
    eventId: d.eventId,
    eventType: d.eventType,
    target: d.target,
    gatewayId: d.gatewayId,
    credentialId: d.credentialId,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    lastAttemptAt: iso(d.lastAttemptAt),
    nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    deliveredAt: iso(d.deliveredAt),
    failedAt: iso(d.failedAt),
    createdAt: d.createdAt.toISOString(),
  };
}
