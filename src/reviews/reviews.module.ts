import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditModule } from '../audit/audit.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { InventoryModule } from '../inventory/inventory.module';
import { RevocationModule } from '../revocation/revocation.module';
import { RotationModule } from '../rotation/rotation.module';
import { CampaignReportRepository } from './campaign-report.repository';
import { CampaignReportService } from './campaign-report.service';
import { CampaignSchedulesController } from './campaign-schedules.controller';
import { CampaignSchedulesRepository } from './campaign-schedules.repository';
import { CampaignSchedulesService } from './campaign-schedules.service';
import { CampaignSweepService } from './campaign-sweep.service';
import { CampaignsController } from './campaigns.controller';
import { CampaignsRepository } from './campaigns.repository';
import { CampaignsService } from './campaigns.service';
import { CampaignEntity } from './entities/campaign.entity';
import { CampaignScheduleEntity } from './entities/campaign-schedule.entity';
import { CampaignSignoffEntity } from './entities/campaign-signoff.entity';
import { ReviewItemEntity } from './entities/review-item.entity';
import { ReviewReminderEntity } from './entities/review-reminder.entity';
import { ReviewDecisionsService } from './review-decisions.service';
import { ReviewItemsRepository } from './review-items.repository';
import { ReviewMetrics } from './review-metrics';
import { ReviewRemindersRepository } from './review-reminders.repository';
import { ReviewRemindersService } from './review-reminders.service';
import { ReviewSweepCron } from './review-sweep.cron';
import { ReviewsController } from './reviews.controller';

/**
 * Access reviews: campaigns, schedules, review items, decisions, sign-off,
 * reports. Carries decisions out only through the inventory's and the
 * revocation's services.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([CampaignEntity, CampaignScheduleEntity, ReviewItemEntity, CampaignSignoffEntity, ReviewReminderEntity]),
    AuditModule,
    InventoryModule,
    RevocationModule,
    RotationModule,
    GatewaysModule,
  ],
  controllers: [CampaignsController, CampaignSchedulesController, ReviewsController],
  providers: [
    CampaignsService,
    CampaignsRepository,
    ReviewItemsRepository,
    CampaignSchedulesService,
    CampaignSchedulesRepository,
    ReviewDecisionsService,
    CampaignReportService,
    CampaignReportRepository,
    ReviewRemindersService,
    ReviewRemindersRepository,
    CampaignSweepService,
    ReviewSweepCron,
    ReviewMetrics,
  ],
  exports: [CampaignSweepService],
})
export class ReviewsModule {}
