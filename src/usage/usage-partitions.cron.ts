import { Injectable, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

import { Clock, DAY_MS } from '../common/clock/clock';
import { PeriodicSweep } from '../common/jobs/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { UsageEventSink } from './usage-event-sink';

export const USAGE_PARTITIONS_INTERVAL = 'usage-partitions';

/**
 * Keeps the per-call records' day partitions: creates the coming days' ahead
 * and drops whole days older than USAGE_RETENTION_DAYS, every
 * USAGE_PARTITION_SWEEP_INTERVAL_MS in processes with the scheduler role (and
 * once at every start, so a fresh database has today's partition).
 */
@Injectable()
export class UsagePartitionsCron extends PeriodicSweep {
  constructor(
    private readonly sink: UsageEventSink,
    private readonly clock: Clock,
    private readonly appConfig: AppConfig,
    @Optional() scheduler?: SchedulerRegistry,
  ) {
    super(USAGE_PARTITIONS_INTERVAL, appConfig.usage.partitionSweepIntervalMs, appConfig, scheduler);
  }

  protected override runsAtStart(): boolean {
    return true;
  }

  /** Public so tests run a round with the clock moved. */
  override round() {
    const now = this.clock.now();
    return this.sink.maintain(now, new Date(now.getTime() - this.appConfig.usage.retentionDays * DAY_MS));
  }
}
