import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { SecretDestructionService } from './secret-destruction.service';

/** Retries due secret destructions every OUTBOX_SWEEP_INTERVAL_MS, in processes with the scheduler role. */
@Injectable()
export class RevocationSweepCron implements OnApplicationBootstrap {
  private readonly logger = new Logger(RevocationSweepCron.name);
  private running = false;

  constructor(
    private readonly destruction: SecretDestructionService,
    private readonly config: AppConfig,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.roles.includes('scheduler') || !this.scheduler) return;
    this.scheduler.addInterval('secret-destruction-sweep', setInterval(() => void this.tick(), this.config.delivery.sweepIntervalMs));
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.destruction.sweep();
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'secret destruction sweep failed; next round retries');
    } finally {
      this.running = false;
    }
  }
}
