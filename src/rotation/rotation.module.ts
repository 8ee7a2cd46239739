import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditModule } from '../audit/audit.module';
import { CredentialChangesModule } from '../enforcement/credential-changes.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { InventoryModule } from '../inventory/inventory.module';
import { SecretStoresModule } from '../secret-stores/secret-stores.module';
import { RotationEntity } from './entities/rotation.entity';
import { RotationProcessor } from './rotation.processor';
import { RotationEvents } from './rotation-events';
import { RotationMetrics } from './rotation-metrics';
import { RotationQueue } from './rotation-queue';
import { RotationRunnerService } from './rotation-runner.service';
import { RotationStepsService } from './rotation-steps.service';
import { RotationSweepCron } from './rotation-sweep.cron';
import { RotationSweeperService } from './rotation-sweeper.service';
import { RotationsController } from './rotations.controller';
import { RotationsRepository } from './rotations.repository';
import { RotationsService } from './rotations.service';

/**
 * Rotation: the scheduler sweep, the persisted step machine its jobs run,
 * manual and emergency rotation, retries of failed rotations, and history.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([RotationEntity]),
    AuditModule,
    InventoryModule,
    GatewaysModule,
    SecretStoresModule,
    CredentialChangesModule,
  ],
  controllers: [RotationsController],
  providers: [
    RotationsRepository,
    RotationQueue,
    RotationEvents,
    RotationMetrics,
    RotationStepsService,
    RotationRunnerService,
    RotationsService,
    RotationSweeperService,
    RotationProcessor,
    RotationSweepCron,
  ],
  exports: [RotationsService, RotationSweeperService, RotationRunnerService],
})
export class RotationModule {}
