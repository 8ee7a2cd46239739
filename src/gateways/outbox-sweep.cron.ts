import { Injectable, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { PeriodicSweep } from '../common/jobs/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { OutboxSweeper } from './outbox-sweeper.service';

/** Re-enqueues deliveries whose jobs went missing, every OUTBOX_SWEEP_INTERVAL_MS, in processes with the scheduler role. */
@Injectable()
export class OutboxSweepCron extends PeriodicSweep {
  constructor(
    private readonly sweeper: OutboxSweeper,
    config: AppConfig,
    @Optional() scheduler?: SchedulerRegistry,
  ) {
    super('outbox-sweep', config.delivery.sweepIntervalMs, config, scheduler);
  }

  protected round() {
    return this.sweeper.sweep();
  }
}
