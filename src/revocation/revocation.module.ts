import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditModule } from '../audit/audit.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { InventoryModule } from '../inventory/inventory.module';
import { RotationModule } from '../rotation/rotation.module';
import { SecretStoresModule } from '../secret-stores/secret-stores.module';
import { RevocationEntity } from './entities/revocation.entity';
import { RevocationCredentialEntity } from './entities/revocation-credential.entity';
import { RevocationController } from './revocation.controller';
import { RevocationService } from './revocation.service';
import { RevocationsRepository } from './revocations.repository';
import { SecretDestructionProcessor } from './secret-destruction.processor';
import { SecretDestructionService } from './secret-destruction.service';
import { SecretDestructionsRepository } from './secret-destructions.repository';

@Module({
  imports: [
    TypeOrmModule.forFeature([RevocationEntity, RevocationCredentialEntity]),
    AuditModule,
    InventoryModule,
    GatewaysModule,
    SecretStoresModule,
    RotationModule,
  ],
  controllers: [RevocationController],
  providers: [RevocationService, RevocationsRepository, SecretDestructionService, SecretDestructionsRepository, SecretDestructionProcessor],
  exports: [RevocationService, SecretDestructionService],
})
export class RevocationModule {}
