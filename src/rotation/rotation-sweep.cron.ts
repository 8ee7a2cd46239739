import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { RotationSweeper } from './rotation-sweeper.service';

/** Runs the rotation sweep every ROTATION_SWEEP_INTERVAL_MS in processes with the scheduler role. */
@Injectable()
export class RotationSweepCron implements OnApplicationBootstrap {
  private readonly logger = new Logger(RotationSweepCron.name);
  private running = false;

  constructor(
    private readonly sweeper: RotationSweeper,
    private readonly config: AppConfig,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.roles.includes('scheduler') || !this.scheduler) return;
    this.scheduler.addInterval('rotation-sweep', setInterval(() => void this.tick(), this.config.rotation.sweepIntervalMs));
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const result = await this.sweeper.sweep();
      if (result.started || result.retiring || result.requeued) this.logger.log(result, 'rotation sweep');
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'rotation sweep failed; next round retries');
    } finally {
      this.running = false;
    }
  }
}
