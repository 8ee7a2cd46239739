import { Injectable, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

import { PeriodicSweep } from '../common/jobs/periodic-sweep';
import { AppConfig } from '../config/app-config';
import { OAuthMaintenanceService } from './oauth-maintenance.service';

/**
 * Every minute in processes with the scheduler role: signing keys and revoked-token housekeeping. A process
 * that serves HTTP has made its first key before listening (SigningKeysService.onApplicationBootstrap);
 * a scheduler without the api role runs one round at start.
 */
@Injectable()
export class SigningKeySweepCron extends PeriodicSweep {
  constructor(
    private readonly maintenance: OAuthMaintenanceService,
    private readonly appConfig: AppConfig,
    @Optional() scheduler?: SchedulerRegistry,
  ) {
    super('oauth-signing-key-sweep', 60_000, appConfig, scheduler);
  }

  /** The api role made the key before listening; a scheduler alone makes sure at start (the first one made anywhere is enough). */
  protected override runsAtStart(): boolean {
    return !this.appConfig.roles.includes('api') && this.appConfig.roles.includes('scheduler');
  }

  protected round() {
    return this.maintenance.sweep();
  }
}
