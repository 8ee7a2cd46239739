import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { TableRepository } from '../common/db/table-repository';
import { updateFields } from '../common/db/update-fields';
import type { Page } from '../common/pagination/pagination';
import { CampaignEntity, CampaignStatus } from './entities/campaign.entity';
import { CampaignSignoffEntity } from './entities/campaign-signoff.entity';

/** The campaigns table and the owners' sign-offs of each campaign (campaign_signoffs), one method per purpose. */
@Injectable()
export class CampaignsRepository extends TableRepository<CampaignEntity> {
  constructor(@InjectDataSource() dataSource: DataSource) {
    super(dataSource, CampaignEntity, 'c');
  }

  async setItemCount(em: EntityManager, id: string, itemCount: number): Promise<void> {
    await em.update(CampaignEntity, { id }, { itemCount });
  }

  list(query: { status?: CampaignStatus; limit?: number; cursor?: string }): Promise<Page<CampaignEntity>> {
    return this.page(query, (qb) => {
      if (query.status) qb.andWhere('c.status = :status', { status: query.status });
    });
  }

  /** Locks a campaign to close it: nothing decides an item meanwhile. */
  lockForClose(em: EntityManager, id: string): Promise<CampaignEntity | null> {
    return em.findOne(CampaignEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Holds a campaign FOR SHARE while an item is decided or an owner signs off, so a close cannot slip in. */
  lockForDecision(em: EntityManager, id: string): Promise<CampaignEntity | null> {
    return em.findOne(CampaignEntity, { where: { id }, lock: { mode: 'pessimistic_read' } });
  }

  async saveClosed(em: EntityManager, campaign: CampaignEntity): Promise<void> {
    await updateFields(em, CampaignEntity, campaign, ['status', 'closedAt', 'closedBy', 'closeReason', 'updatedAt']);
  }

  /** Open campaigns whose deadline has passed, oldest deadline first. */
  async overdue(now: Date, limit: number): Promise<string[]> {
    const rows = await this.dataSource
      .getRepository(CampaignEntity)
      .createQueryBuilder('c')
      .select('c.id', 'id')
      .where(`c.status = 'open' AND c.due_at <= :now`, { now })
      .orderBy('c.due_at', 'ASC')
      .limit(limit)
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  /** Campaigns whose deadline falls within (earliest, latest], by deadline. */
  dueBetween(earliest: Date, latest: Date): Promise<CampaignEntity[]> {
    return this.dataSource
      .getRepository(CampaignEntity)
      .createQueryBuilder('c')
      .where('c.due_at <= :latest AND c.due_at > :earliest', { latest, earliest })
      .orderBy('c.due_at', 'ASC')
      .getMany();
  }

  /** Whether a schedule's campaign for `period` exists. */
  existsForPeriod(scheduleId: string, period: number, em: EntityManager = this.dataSource.manager): Promise<boolean> {
    return em.exists(CampaignEntity, { where: { scheduleId, schedulePeriod: period } });
  }

  signoffsOf(campaignId: string, em: EntityManager = this.dataSource.manager): Promise<CampaignSignoffEntity[]> {
    return em.find(CampaignSignoffEntity, { where: { campaignId }, order: { ownerId: 'ASC' } });
  }

  signoffExists(em: EntityManager, campaignId: string, ownerId: string): Promise<boolean> {
    return em.exists(CampaignSignoffEntity, { where: { campaignId, ownerId } });
  }

  async insertSignoff(em: EntityManager, signoff: CampaignSignoffEntity): Promise<void> {
    await em.insert(CampaignSignoffEntity, signoff);
  }
}
