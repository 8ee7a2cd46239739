import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { OutboxSweeper } from './outbox-sweeper.service';

/** Runs the outbox sweep every OUTBOX_SWEEP_INTERVAL_MS in processes with the scheduler role. */
@Injectable()
export class OutboxSweepCron implements OnApplicationBootstrap {
  private readonly logger = new Logger(OutboxSweepCron.name);
  private running = false;

  constructor(
    private readonly sweeper: OutboxSweeper,
    private readonly config: AppConfig,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.roles.includes('scheduler') || !this.scheduler) return;
    this.scheduler.addInterval('outbox-sweep', setInterval(() => void this.tick(), this.config.delivery.sweepIntervalMs));
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const result = await this.sweeper.sweep();
      if (result.requeued > 0) this.logger.log(result, 'outbox sweep re-enqueued deliveries whose jobs were missing');
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'outbox sweep failed; next round retries');
    } finally {
      this.running = false;
    }
  }
}
