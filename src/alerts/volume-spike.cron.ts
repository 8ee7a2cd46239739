import { Injectable, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

import { PeriodicSweep } from '../common/jobs/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { VolumeSpikeService } from './volume-spike.service';

/** Runs the volume-spike sweep (and the detection state's pruning) every ALERT_SWEEP_INTERVAL_MS in processes with the scheduler role. */
@Injectable()
export class VolumeSpikeCron extends PeriodicSweep {
  constructor(
    private readonly spikes: VolumeSpikeService,
    config: AppConfig,
    @Optional() scheduler?: SchedulerRegistry,
  ) {
    super('alert-volume-spike', config.alerts.sweepIntervalMs, config, scheduler);
  }

  /** Public so tests run a round with the clock moved. */
  override round() {
    return this.spikes.sweep();
  }
}
