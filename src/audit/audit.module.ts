import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { AuditChainerService } from './audit-chainer.service';
import { AuditChainLinkEntity } from './entities/audit-chain-link.entity';
import { AuditEventEntity } from './entities/audit-event.entity';
import { AuditUnchainedEntity } from './entities/audit-unchained.entity';

@Module({
  imports: [TypeOrmModule.forFeature([AuditEventEntity, AuditChainLinkEntity, AuditUnchainedEntity])],
  controllers: [AuditController],
  providers: [AuditService, AuditChainerService, AuditRepository],
  exports: [AuditService],
})
export class AuditModule {}
