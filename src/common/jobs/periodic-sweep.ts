import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { SchedulerRegistry } from '@nestjs/schedule';

import type { AppConfig } from '../../config/app-config';
import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../shutdown/shutdown-step';

/**
 * A sweep the scheduler role runs every `intervalMs`: never two rounds of the
 * same sweep at once in a process, a failed round logged and left to the next,
 * and a round in progress allowed to finish before the database pool closes
 * (the shutdown sequence's work phase; one stuck on Postgres or Redis is
 * abandoned at the phase's deadline).
 * Cross-process exclusion is the sweep's own business (an advisory lock).
 * Subclasses only say what one round does.
 */
export abstract class PeriodicSweep implements OnApplicationBootstrap, ShutdownParticipant {
  protected readonly logger: Logger;
  private running: Promise<void> | null = null;
  private stopped = false;

  protected constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly config: AppConfig,
    private readonly scheduler?: SchedulerRegistry,
  ) {
    this.logger = new Logger(new.target.name);
  }

  /** One round. What it returns is logged when any count in it is above zero. */
  protected abstract round(): Promise<object | void>;

  /**
   * Whether this process also runs one round as soon as it has started (when
   * the promise resolves, if one is returned: nothing waits on it); none by default.
   */
  protected runsAtStart(): boolean | Promise<boolean> {
    return false;
  }

  onApplicationBootstrap(): void {
    void Promise.resolve(this.runsAtStart()).then((run) => {
      if (run) void this.tick();
    });
    if (!this.config.roles.includes('scheduler') || !this.scheduler) return;
    this.scheduler.addInterval(
      this.name,
      setInterval(() => void this.tick(), this.intervalMs),
    );
  }

  shutdownSteps(): ShutdownStep[] {
    return [
      {
        phase: ShutdownPhase.Work,
        name: this.name,
        count: 1,
        close: async () => {
          this.stopped = true;
          if (this.scheduler?.doesExist('interval', this.name)) this.scheduler.deleteInterval(this.name);
          await this.running;
        },
      },
    ];
  }

  private async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = (async () => {
      try {
        const result = await this.round();
        if (result && Object.values(result).some((v: unknown) => typeof v === 'number' && v > 0)) this.logger.log(result, this.name);
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, `${this.name} failed; the next round retries`);
      }
    })();
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }
}
