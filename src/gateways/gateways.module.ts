import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditModule } from '../audit/audit.module';
import { CredentialChangesModule } from '../enforcement/credential-changes.module';
import { DeliveriesController } from './deliveries.controller';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveriesService } from './deliveries.service';
import { DeliveryProcessor } from './delivery.processor';
import { DeliveryMetrics } from './delivery-metrics';
import { DeliveryQueue } from './delivery-queue';
import { DeliveryEntity } from './entities/delivery.entity';
import { GatewayEntity } from './entities/gateway.entity';
import { OutboxEventEntity } from './entities/outbox-event.entity';
import { EventOutboxService } from './event-outbox.service';
import { GatewaySyncController } from './gateway-sync.controller';
import { GatewaySyncRepository } from './gateway-sync.repository';
import { GatewaySyncService } from './gateway-sync.service';
import { GatewaysController } from './gateways.controller';
import { GatewaysRepository } from './gateways.repository';
import { GatewaysService } from './gateways.service';
import { HostResolver, SystemHostResolver } from './host-resolver';
import { HttpWebhookSender } from './http-webhook-sender';
import { OutboxEventsRepository } from './outbox-events.repository';
import { OutboxSweeperService } from './outbox-sweeper.service';
import { WebhookSender } from './webhook-sender';

/**
 * Gateways, the event outbox and signed webhook delivery. Knows nothing of
 * inventory: publishers hand it an event's type, credential id, environment and data.
 */
@Module({
  imports: [TypeOrmModule.forFeature([GatewayEntity, OutboxEventEntity, DeliveryEntity]), AuditModule, CredentialChangesModule],
  controllers: [GatewaysController, DeliveriesController, GatewaySyncController],
  providers: [
    DeliveriesRepository,
    GatewaysRepository,
    GatewaySyncRepository,
    GatewaySyncService,
    OutboxEventsRepository,
    DeliveryQueue,
    DeliveryMetrics,
    EventOutboxService,
    GatewaysService,
    DeliveriesService,
    DeliveryProcessor,
    OutboxSweeperService,
    { provide: WebhookSender, useClass: HttpWebhookSender },
    { provide: HostResolver, useClass: SystemHostResolver },
  ],
  exports: [EventOutboxService, DeliveriesService, OutboxSweeperService, GatewaysService],
})
export class GatewaysModule {}
