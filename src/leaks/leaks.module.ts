import { Module } from '@nestjs/common';

import { AlertLeakFindings } from '../alerts/alert-leak-findings';
import { AlertsModule } from '../alerts/alerts.module';
import { AuditModule } from '../audit/audit.module';
import { InventoryModule } from '../inventory/inventory.module';
import { RevocationModule } from '../revocation/revocation.module';
import { RotationModule } from '../rotation/rotation.module';
import { GithubScanningKeys } from './github-scanning-keys.service';
import { GithubSecretScanningController } from './github-secret-scanning.controller';
import { GithubSecretScanningService } from './github-secret-scanning.service';
import { GitlabTokenRevocationController } from './gitlab-token-revocation.controller';
import { LeakFindings } from './leak-findings';
import { LeaksController } from './leaks.controller';
import { LeaksService } from './leaks.service';

/**
 * Leak response: reports of leaked secrets from people (POST /v1/leaks),
 * GitHub's secret scanning and GitLab's token revocation API, each acted on
 * through the revocation and rotation use cases. A report of a retired or
 * revoked version raises `retired_key_used` through the alerts module (LeakFindings).
 */
@Module({
  imports: [AlertsModule, AuditModule, InventoryModule, RevocationModule, RotationModule],
  controllers: [LeaksController, GithubSecretScanningController, GitlabTokenRevocationController],
  providers: [LeaksService, GithubScanningKeys, GithubSecretScanningService, { provide: LeakFindings, useExisting: AlertLeakFindings }],
  exports: [LeaksService],
})
export class LeaksModule {}
