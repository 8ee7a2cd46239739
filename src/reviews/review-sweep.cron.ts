import { Injectable, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

import { PeriodicSweep } from '../common/jobs/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { CampaignSweepService } from './campaign-sweep.service';

export const REVIEW_SWEEP_INTERVAL = 'review-sweep';

/** Opens scheduled campaigns, closes those past their deadline and sends reminders, every REVIEW_SWEEP_INTERVAL_MS, in processes with the scheduler role. */
@Injectable()
export class ReviewSweepCron extends PeriodicSweep {
  constructor(
    private readonly sweep: CampaignSweepService,
    config: AppConfig,
    @Optional() scheduler?: SchedulerRegistry,
  ) {
    super(REVIEW_SWEEP_INTERVAL, config.reviews.sweepIntervalMs, config, scheduler);
  }

  protected round() {
    return this.sweep.sweep();
  }
}
