import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { InventoryModule } from '../inventory/inventory.module';
import { RevocationModule } from '../revocation/revocation.module';
import { RotationModule } from '../rotation/rotation.module';
import { CampaignReportService } from './campaign-report.service';
import { CampaignSchedulesController } from './campaign-schedules.controller';
import { CampaignSchedulesService } from './campaign-schedules.service';
import { CampaignSweep } from './campaign-sweep.service';
import { CampaignsController } from './campaigns.controller';
import { CampaignsService } from './campaigns.service';
import { CampaignScheduleEntity } from './entities/campaign-schedule.entity';
import { CampaignSignoffEntity } from './entities/campaign-signoff.entity';
import { CampaignEntity } from './entities/campaign.entity';
import { ReviewItemEntity } from './entities/review-item.entity';
import { ReviewReminderEntity } from './entities/review-reminder.entity';
import { ReviewDecisionsService } from './review-decisions.service';
import { ReviewMetrics } from './review-metrics';
import { ReviewRemindersService } from './review-reminders.service';
import { ReviewSweepCron } from './reviews.cron';
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
    CampaignSchedulesService,
    ReviewDecisionsService,
    CampaignReportService,
    ReviewRemindersService,
    CampaignSweep,
    ReviewSweepCron,
    ReviewMetrics,
  ],
  exports: [CampaignSweep],
})
export class ReviewsModule {}
