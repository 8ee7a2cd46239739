import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditModule } from '../audit/audit.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { SecretStoresModule } from '../secret-stores/secret-stores.module';
import { AgentsController } from './agents.controller';
import { AgentsRepository } from './agents.repository';
import { AgentsService } from './agents.service';
import { CredentialApprovalsService } from './credential-approvals.service';
import { CredentialSecretsService } from './credential-secrets.service';
import { CredentialsController } from './credentials.controller';
import { CredentialsRepository } from './credentials.repository';
import { CredentialsService } from './credentials.service';
import { AgentEntity } from './entities/agent.entity';
import { CredentialEntity } from './entities/credential.entity';
import { OwnerEntity } from './entities/owner.entity';
import { ProductEntity } from './entities/product.entity';
import { OwnersController } from './owners.controller';
import { OwnersRepository } from './owners.repository';
import { OwnersService } from './owners.service';
import { ProductsController } from './products.controller';
import { ProductsRepository } from './products.repository';
import { ProductsService } from './products.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([OwnerEntity, ProductEntity, AgentEntity, CredentialEntity]),
    AuditModule,
    SecretStoresModule,
    GatewaysModule,
  ],
  controllers: [OwnersController, ProductsController, AgentsController, CredentialsController],
  providers: [
    OwnersService,
    OwnersRepository,
    ProductsService,
    ProductsRepository,
    AgentsService,
    AgentsRepository,
    CredentialsService,
    CredentialApprovalsService,
    CredentialSecretsService,
    CredentialsRepository,
  ],
  exports: [OwnersService, ProductsService, AgentsService, CredentialsService],
})
export class InventoryModule {}
