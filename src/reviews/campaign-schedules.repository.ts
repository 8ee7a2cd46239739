import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { fetchTimePage, Page } from '../common/pagination/pagination';
import { CampaignScheduleEntity } from './entities/campaign-schedule.entity';

/** The campaign_schedules table, one method per purpose. */
@Injectable()
export class CampaignSchedulesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(em: EntityManager, schedule: CampaignScheduleEntity): Promise<void> {
    await em.insert(CampaignScheduleEntity, schedule);
  }

  list(query: { limit?: number; cursor?: string }): Promise<Page<CampaignScheduleEntity>> {
    return fetchTimePage(this.dataSource.getRepository(CampaignScheduleEntity).createQueryBuilder('s'), 's', query, (row) => row);
  }

  /** Every schedule, oldest first (the scheduler's round opens what each owes). */
  all(): Promise<CampaignScheduleEntity[]> {
    return this.dataSource.getRepository(CampaignScheduleEntity).find({ order: { createdAt: 'ASC' } });
  }
}
