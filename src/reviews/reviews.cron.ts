import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { CampaignSweep } from './campaign-sweep.service';

export const REVIEW_SWEEP_INTERVAL = 'review-sweep';

/** Runs the review sweep every REVIEW_SWEEP_INTERVAL_MS in processes with the scheduler role. */
@Injectable()
export class ReviewSweepCron implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReviewSweepCron.name);
  private running: Promise<void> | null = null;

  constructor(
    private readonly sweep: CampaignSweep,
    private readonly config: AppConfig,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.roles.includes('scheduler') || !this.scheduler) return;
    this.scheduler.addInterval(REVIEW_SWEEP_INTERVAL, setInterval(() => void this.tick(), this.config.reviews.sweepIntervalMs));
  }

  /** Lets a round in progress finish before the database pool closes. */
  async onApplicationShutdown(): Promise<void> {
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = (async () => {
      try {
        const result = await this.sweep.sweep();
        if (result.opened || result.closed || result.reminded) this.logger.log(result, 'review sweep');
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'review sweep failed; next round retries');
      }
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }
}
