import { Injectable, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { PeriodicSweep } from '../common/jobs/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { SecretDestructionService } from './secret-destruction.service';

/** Retries due secret destructions every OUTBOX_SWEEP_INTERVAL_MS, in processes with the scheduler role. */
@Injectable()
export class RevocationSweepCron extends PeriodicSweep {
  constructor(
    private readonly destruction: SecretDestructionService,
    config: AppConfig,
    @Optional() scheduler?: SchedulerRegistry,
  ) {
    super('secret-destruction-sweep', config.delivery.sweepIntervalMs, config, scheduler);
  }

  protected async round() {
    await this.destruction.sweep();
  }
}
