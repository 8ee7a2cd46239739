import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

import { ReviewReminderEntity } from './entities/review-reminder.entity';

/** An owner of a campaign who has not signed off and has not had this stage's reminder. */
export interface OwnerToRemind {
  ownerId: string;
  itemCount: number;
  pendingCount: number;
}

/** The review_reminders table: which (campaign, owner, stage) reminders went out. */
@Injectable()
export class ReviewRemindersRepository {
  async ownersToRemind(em: EntityManager, campaignId: string, stage: string): Promise<OwnerToRemind[]> {
    const rows: Array<{ owner_id: string; total: string; pending: string }> = await em.query(
      `SELECT i.owner_id, count(*) AS total, count(*) FILTER (WHERE i.status = 'pending') AS pending
         FROM review_items i
        WHERE i.campaign_id = $1
          AND NOT EXISTS (SELECT 1 FROM campaign_signoffs s WHERE s.campaign_id = $1 AND s.owner_id = i.owner_id)
          AND NOT EXISTS (SELECT 1 FROM review_reminders r WHERE r.campaign_id = $1 AND r.owner_id = i.owner_id AND r.stage = $2)
        GROUP BY i.owner_id
        ORDER BY i.owner_id`,
      [campaignId, stage],
    );
    return rows.map((row) => ({ ownerId: row.owner_id, itemCount: Number(row.total), pendingCount: Number(row.pending) }));
  }

  async insert(em: EntityManager, reminders: ReviewReminderEntity[]): Promise<void> {
    await em.insert(ReviewReminderEntity, reminders);
  }
}
