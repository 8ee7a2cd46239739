import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CredentialChangesModule } from '../enforcement/credential-changes.module';
import { InventoryModule } from '../inventory/inventory.module';
import { RotationModule } from '../rotation/rotation.module';
import { AccessTokensService } from './access-tokens.service';
import { ClientAuthCache } from './client-auth-cache';
import { ClientAuthenticationService } from './client-authentication.service';
import { OAuthRevokedTokenEntity } from './entities/oauth-revoked-token.entity';
import { OAuthSigningKeyEntity } from './entities/oauth-signing-key.entity';
import { OAuthController, WellKnownController } from './oauth.controller';
import { OAuthService } from './oauth.service';
import { OAuthMaintenanceService } from './oauth-maintenance.service';
import { RevokedTokensRepository } from './revoked-tokens.repository';
import { SigningKeySweepCron } from './signing-key-sweep.cron';
import { SigningKeysRepository } from './signing-keys.repository';
import { SigningKeysService } from './signing-keys.service';
import { TokenClientCache } from './token-client-cache';

/**
 * The OAuth 2.0 authorization server for `oauth_client` credentials (docs/oauth.md). Exports
 * AccessTokensService, whose `verify` is how /v1/verify and /v1/authz check a presented access token.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([OAuthSigningKeyEntity, OAuthRevokedTokenEntity]),
    AuditModule,
    AuthModule,
    InventoryModule,
    RotationModule,
    CredentialChangesModule,
  ],
  controllers: [OAuthController, WellKnownController],
  providers: [
    OAuthService,
    AccessTokensService,
    ClientAuthenticationService,
    SigningKeysService,
    SigningKeysRepository,
    RevokedTokensRepository,
    OAuthMaintenanceService,
    SigningKeySweepCron,
    TokenClientCache,
    ClientAuthCache,
  ],
  exports: [AccessTokensService, SigningKeysService, OAuthMaintenanceService, TokenClientCache, ClientAuthCache],
})
export class OAuthModule {}
