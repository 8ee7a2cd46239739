import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { TableRepository } from '../common/db/table-repository';
import type { Page } from '../common/pagination/pagination';
import { CampaignScheduleEntity } from './entities/campaign-schedule.entity';

/** The campaign_schedules table, one method per purpose. */
@Injectable()
export class CampaignSchedulesRepository extends TableRepository<CampaignScheduleEntity> {
  constructor(@InjectDataSource() dataSource: DataSource) {
    super(dataSource, CampaignScheduleEntity, 's');
  }

  list(query: { limit?: number; cursor?: string }): Promise<Page<CampaignScheduleEntity>> {
    return this.page(query);
  }

  /** Every schedule, oldest first (the scheduler's round opens what each owes). */
  all(): Promise<CampaignScheduleEntity[]> {
    return this.dataSource.getRepository(CampaignScheduleEntity).find({ order: { createdAt: 'ASC' } });
  }
}
