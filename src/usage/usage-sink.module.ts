import { Module } from '@nestjs/common';

import { PostgresUsageEventSink } from './postgres-usage-event-sink';
import { UsageEventSink } from './usage-event-sink';
import { UsageEventsRepository } from './usage-events.repository';

/**
 * The per-call record store behind UsageEventSink, on its own so the
 * enforcement module (which records verify/authz calls) and the usage module
 * (ingestion, the views) share one without depending on each other.
 */
@Module({
  providers: [UsageEventsRepository, { provide: UsageEventSink, useClass: PostgresUsageEventSink }],
  exports: [UsageEventSink],
})
export class UsageSinkModule {}
