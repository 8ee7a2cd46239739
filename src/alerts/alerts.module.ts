import { Module } from '@nestjs/common';

import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { EnforcementModule } from '../enforcement/enforcement.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { RevocationModule } from '../revocation/revocation.module';
import { RotationModule } from '../rotation/rotation.module';
import { AlertDetectorService } from './alert-detector.service';
import { AlertLeakFindings } from './alert-leak-findings';
import { AlertsController } from './alerts.controller';
import { AlertsRepository } from './alerts.repository';
import { AlertsService } from './alerts.service';
import { VolumeSpikeCron } from './volume-spike.cron';
import { VolumeSpikeService } from './volume-spike.service';

/**
 * Anomaly alerts: streaming detection over recorded usage (it registers with
 * the enforcement module's usage recorder through its UsageObserver port), the
 * volume-spike sweep over closed hours, alerts and their policies, and the
 * leak module's retired-key findings (AlertLeakFindings, bound in
 * src/leaks/leaks.module.ts). Notifications go through the gateways module's
 * outbox to the notification webhook; policies act through the rotation and
 * revocation services.
 */
@Module({
  imports: [AuditModule, AuthModule, EnforcementModule, GatewaysModule, RevocationModule, RotationModule],
  controllers: [AlertsController],
  providers: [AlertsRepository, AlertsService, AlertDetectorService, AlertLeakFindings, VolumeSpikeService, VolumeSpikeCron],
  exports: [AlertsService, AlertLeakFindings],
})
export class AlertsModule {}
