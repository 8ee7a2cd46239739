import { Injectable, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

import { AppConfig } from '../../config/app-config';
import { JobSweeper } from './job-sweeper';
import { PeriodicSweep } from './periodic-sweep';

/**
 * Runs the job sweep (every kind of due work has its job) every
 * OUTBOX_SWEEP_INTERVAL_MS in processes with the scheduler role, and once as
 * soon as a process with the worker or scheduler role has started and
 * reached Redis: a restarted worker finds at once the work whose enqueue a
 * crash lost.
 */
@Injectable()
export class JobSweepCron extends PeriodicSweep {
  constructor(
    private readonly sweeper: JobSweeper,
    private readonly appConfig: AppConfig,
    @Optional() scheduler?: SchedulerRegistry,
  ) {
    super('job-sweep', appConfig.jobs.sweepIntervalMs, appConfig, scheduler);
  }

  /** Once Redis is connected (a process may start while it is down): the round never waits on Redis, so a stop never waits on the round. */
  protected override runsAtStart(): boolean | Promise<boolean> {
    return this.appConfig.roles.some((role) => role === 'worker' || role === 'scheduler') && this.sweeper.whenRedisReady();
  }

  protected round() {
    return this.sweeper.sweepAll();
  }
}
