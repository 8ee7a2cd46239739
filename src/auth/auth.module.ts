import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditModule } from '../audit/audit.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { InventoryModule } from '../inventory/inventory.module';
import { ApiTokenCache } from './api-token-cache';
import { AuthGuard } from './auth.guard';
import { ApiTokenEntity } from './entities/api-token.entity';
import { TokensController } from './tokens.controller';
import { TokensRepository } from './tokens.repository';
import { TokensService } from './tokens.service';

@Module({
  imports: [TypeOrmModule.forFeature([ApiTokenEntity]), AuditModule, InventoryModule, GatewaysModule],
  controllers: [TokensController],
  providers: [TokensService, TokensRepository, ApiTokenCache, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [TokensService, ApiTokenCache],
})
export class AuthModule {}
