import { Module } from '@nestjs/common';

import { AuthModule } from '../auth/auth.module';
import { AppConfig } from '../config/app-config';
import { GatewaysModule } from '../gateways/gateways.module';
import { InventoryModule } from '../inventory/inventory.module';
import { OAuthModule } from '../oauth/oauth.module';
import { UsageSinkModule } from '../usage/usage-sink.module';
import { CredentialChangeListener } from './credential-change-listener.service';
import { CredentialChangesModule } from './credential-changes.module';
import { CredentialVersionsRepository } from './credential-versions.repository';
import { EnforcementController } from './enforcement.controller';
import { EnforcementHttp } from './enforcement-http';
import { PresentedCredentialResolver } from './presented-credential-resolver';
import { UsageRecorderService } from './usage-recorder.service';
import { UsageRollupsRepository } from './usage-rollups.repository';
import { VerificationService } from './verification.service';
import { VerificationCache } from './verification-cache';

/**
 * Enforcement: verify and forward-auth (authz) from a per-replica cache kept
 * exact by Postgres notifications, rate limits in Redis, usage buffered and
 * written in batches. OAuth access tokens are checked by the oauth module's
 * AccessTokensService (src/oauth/oauth.module.ts). The notifier the changing modules call is its own small
 * module (credential-changes.module.ts).
 */
@Module({
  imports: [AuthModule, CredentialChangesModule, GatewaysModule, InventoryModule, OAuthModule, UsageSinkModule],
  controllers: [EnforcementController],
  providers: [
    {
      provide: VerificationCache,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new VerificationCache(config.enforcement.maxUnknownKeys),
    },
    CredentialChangeListener,
    CredentialVersionsRepository,
    EnforcementHttp,
    PresentedCredentialResolver,
    UsageRecorderService,
    UsageRollupsRepository,
    VerificationService,
  ],
  exports: [VerificationService, UsageRecorderService],
})
export class EnforcementModule {}
