import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { systemContext } from '../auth/actor';
import { Clock, DAY_MS } from '../common/clock/clock';
import { tryAdvisoryXactLock } from '../common/db/advisory-lock';
import { AppConfig } from '../config/app-config';
import { EventOutboxService } from '../gateways/event-outbox.service';
import { OwnersService } from '../inventory/owners.service';
import { CampaignsRepository } from './campaigns.repository';
import { CampaignEntity } from './entities/campaign.entity';
import { ReviewReminderEntity } from './entities/review-reminder.entity';
import { OVERDUE_REMINDER_DAYS, REMINDER_DAYS_BEFORE, reminderStage } from './reminder-stage';
import { ReviewRemindersRepository } from './review-reminders.repository';

/**
 * Chases owners without anyone having to remember: `review.reminder` events
 * through the outbox to the notification webhook, at 7, 3 and 1 days before
 * a campaign's deadline and daily after it, to every owner of the campaign
 * that has not signed off (before the deadline: to decide and sign off; after
 * it: to sign off the outcome). Each (campaign, owner, stage) goes out once:
 * the reminder row, its event and the audit entry commit together, under an
 * advisory lock per campaign so replicas do not send twice.
 */
@Injectable()
export class ReviewRemindersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly campaigns: CampaignsRepository,
    private readonly reminders: ReviewRemindersRepository,
    private readonly outbox: EventOutboxService,
    private readonly owners: OwnersService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  /** Sends the reminders due now; returns how many went out. Nothing without NOTIFY_WEBHOOK_URL. */
  async sendDue(): Promise<number> {
    if (!this.config.notify) return 0;
    const now = this.clock.now();
    const campaigns = await this.campaigns.dueBetween(
      new Date(now.getTime() - OVERDUE_REMINDER_DAYS * DAY_MS),
      new Date(now.getTime() + Math.max(...REMINDER_DAYS_BEFORE) * DAY_MS),
    );
    let sent = 0;
    for (const campaign of campaigns) {
      const stage = reminderStage(campaign.dueAt, now);
      // Before the deadline only an open campaign has decisions to chase.
      if (!stage || (stage.startsWith('due_in_') && campaign.status !== 'open')) continue;
      sent += await this.remind(campaign, stage);
    }
    return sent;
  }

  private remind(campaign: CampaignEntity, stage: string): Promise<number> {
    const ctx = systemContext('reviews', `review-reminder:${campaign.id}:${stage}`);
    return this.dataSource.transaction(async (em) => {
      if (!(await tryAdvisoryXactLock(em, `agent-credentials:review-reminders:${campaign.id}`))) return 0;
      const owners = await this.reminders.ownersToRemind(em, campaign.id, stage);
      if (owners.length === 0) return 0;
      const now = this.clock.now();
      const rows: ReviewReminderEntity[] = [];
      for (const row of owners) {
        const owner = await this.owners.get(ctx.actor, row.ownerId);
        const event = await this.outbox.publish(em, {
          type: 'review.reminder',
          credentialId: null,
          environment: null,
          notify: true,
          data: {
            campaignId: campaign.id,
            campaignName: campaign.name,
            campaignStatus: campaign.status,
            dueAt: campaign.dueAt.toISOString(),
            stage,
            overdue: now >= campaign.dueAt,
            ownerId: owner.id,
            ownerName: owner.name,
            ownerEmail: owner.email,
            itemCount: row.itemCount,
            pendingCount: row.pendingCount,
            signedOff: false,
          },
        });
        rows.push({ campaignId: campaign.id, ownerId: row.ownerId, stage, eventId: event.eventId, sentAt: now });
      }
      await this.reminders.insert(em, rows);
      await this.audit.record(em, ctx, {
        action: 'campaign.reminders_sent',
        targetType: 'campaign',
        targetId: campaign.id,
        data: { stage, ownerIds: rows.map((r) => r.ownerId) },
      });
      return rows.length;
    });
  }
}
