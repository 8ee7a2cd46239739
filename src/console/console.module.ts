import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { ConsoleSessionController } from './console-session.controller';
import { ConsoleSessionsRepository } from './console-sessions.repository';
import { ConsoleSessionsService } from './console-sessions.service';
import { ConsoleSessionEntity } from './entities/console-session.entity';

/** The web console's server side: sessions (this module) and its static files and dashboard (console-http.ts). */
@Module({
  imports: [TypeOrmModule.forFeature([ConsoleSessionEntity]), AuditModule, AuthModule],
  controllers: [ConsoleSessionController],
  providers: [ConsoleSessionsService, ConsoleSessionsRepository],
  exports: [ConsoleSessionsService],
})
export class ConsoleModule {}
