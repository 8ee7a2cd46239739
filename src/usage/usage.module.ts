import { Module } from '@nestjs/common';

import { AuthModule } from '../auth/auth.module';
import { EnforcementModule } from '../enforcement/enforcement.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { UsageController } from './usage.controller';
import { UsageIngestionService } from './usage-ingestion.service';
import { UsagePartitionsCron } from './usage-partitions.cron';
import { UsageReportGate } from './usage-report-gate';
import { UsageSinkModule } from './usage-sink.module';
import { UsageViewRepository } from './usage-view.repository';
import { UsageViewService } from './usage-view.service';

/**
 * Usage: calls reported by gateways that verify locally, the per-call records
 * (through UsageEventSink, usage-sink.module.ts) and the usage view of a
 * credential from the hourly rollups the enforcement module's recorder writes.
 */
@Module({
  imports: [AuthModule, EnforcementModule, GatewaysModule, UsageSinkModule],
  controllers: [UsageController],
  providers: [UsageIngestionService, UsagePartitionsCron, UsageReportGate, UsageViewRepository, UsageViewService],
  exports: [UsageViewRepository],
})
export class UsageModule {}
