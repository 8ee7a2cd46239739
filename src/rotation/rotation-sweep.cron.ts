import { Injectable, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

import { PeriodicSweep } from '../common/jobs/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { RotationSweeperService } from './rotation-sweeper.service';

/** Runs the rotation sweep every ROTATION_SWEEP_INTERVAL_MS in processes with the scheduler role. */
@Injectable()
export class RotationSweepCron extends PeriodicSweep {
  constructor(
    private readonly sweeper: RotationSweeperService,
    config: AppConfig,
    @Optional() scheduler?: SchedulerRegistry,
  ) {
    super('rotation-sweep', config.rotation.sweepIntervalMs, config, scheduler);
  }

  protected round() {
    return this.sweeper.sweep();
  }
}
