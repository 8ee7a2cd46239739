import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { RequestContext, systemContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { tryAdvisoryXactLock } from '../common/db/advisory-lock';
import { isUniqueViolation } from '../common/db/pg-errors';
import { mapPage, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { CampaignSchedulesRepository } from './campaign-schedules.repository';
import { CampaignsRepository } from './campaigns.repository';
import { CampaignScope, CampaignsService, DEFAULT_DUE_IN_DAYS, DEFAULT_ON_EXPIRY } from './campaigns.service';
import type { ScheduleDto } from './dto/campaign.dto';
import { ExpiryAction } from './entities/campaign.entity';
import { CampaignScheduleEntity } from './entities/campaign-schedule.entity';
import { toScheduleView } from './review-views';
import { currentPeriod } from './schedule-period';

export interface CreateScheduleInput extends CampaignScope {
  name: string;
  everyDays?: number;
  dueInDays?: number;
  onExpiry?: ExpiryAction;
  startsAt?: Date;
}

export const DEFAULT_EVERY_DAYS = 90;
/** The campaign key of a schedule and period; the unique index on (schedule_id, schedule_period) is the backstop. */
const SCHEDULE_UNIQUE_INDEX = 'campaigns_schedule_period_key';

@Injectable()
export class CampaignSchedulesService {
  private readonly logger = new Logger(CampaignSchedulesService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: CampaignSchedulesRepository,
    private readonly campaignRows: CampaignsRepository,
    private readonly campaigns: CampaignsService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  async create(ctx: RequestContext, input: CreateScheduleInput): Promise<ScheduleDto> {
    await this.campaigns.assertOwnersExist(input.ownerIds);
    const now = this.clock.now();
    const schedule: CampaignScheduleEntity = {
      id: this.random.uuid(),
      name: input.name,
      everyDays: input.everyDays ?? DEFAULT_EVERY_DAYS,
      environment: input.environment ?? null,
      ownerIds: input.ownerIds?.length ? [...new Set(input.ownerIds)] : null,
      dueInDays: input.dueInDays ?? DEFAULT_DUE_IN_DAYS,
      onExpiry: input.onExpiry ?? DEFAULT_ON_EXPIRY,
      startsAt: input.startsAt ?? now,
      createdBy: ctx.actor.tokenId,
      createdAt: now,
      updatedAt: now,
    };
    await this.dataSource.transaction(async (em) => {
      await this.repository.insert(em, schedule);
      await this.audit.record(em, ctx, {
        action: 'campaign_schedule.created',
        targetType: 'campaign_schedule',
        targetId: schedule.id,
        data: {
          name: schedule.name,
          everyDays: schedule.everyDays,
          environment: schedule.environment,
          ownerIds: schedule.ownerIds,
          dueInDays: schedule.dueInDays,
          onExpiry: schedule.onExpiry,
          startsAt: schedule.startsAt.toISOString(),
        },
      });
    });
    return toScheduleView(schedule, now);
  }

  async list(query: { limit?: number; cursor?: string }): Promise<Page<ScheduleDto>> {
    const now = this.clock.now();
    return mapPage(await this.repository.list(query), (s) => toScheduleView(s, now));
  }

  /**
   * Opens the campaign of each schedule's current period, once. Each schedule
   * is handled in its own transaction under an advisory lock named after it,
   * so of several scheduler replicas one opens the campaign and the others
   * skip; one that comes later finds the campaign already there, and the
   * unique (schedule, period) index stops any that slips through.
   */
  async openDue(): Promise<number> {
    const schedules = await this.repository.all();
    let opened = 0;
    for (const schedule of schedules) {
      const now = this.clock.now();
      const period = currentPeriod(schedule.startsAt, schedule.everyDays, now);
      if (period === null) continue;
      const ctx = systemContext('reviews', `campaign-schedule:${schedule.id}:${period}`);
      if (await this.campaignRows.existsForPeriod(schedule.id, period)) continue;
      const risk = await this.campaigns.riskInputs();
      try {
        const done = await this.dataSource.transaction(async (em) => {
          if (!(await tryAdvisoryXactLock(em, `agent-credentials:campaign-schedule:${schedule.id}`))) return null;
          if (await this.campaignRows.existsForPeriod(schedule.id, period, em)) return null;
          return this.campaigns.openIn(
            em,
            ctx,
            {
              name: `${schedule.name} #${period + 1}`,
              environment: schedule.environment as CampaignScope['environment'],
              ownerIds: schedule.ownerIds,
              dueInDays: schedule.dueInDays,
              onExpiry: schedule.onExpiry,
            },
            risk,
            { scheduleId: schedule.id, period },
          );
        });
        if (done) {
          opened += 1;
          await this.campaigns.afterOpened(done);
        }
      } catch (error) {
        if (!isUniqueViolation(error, SCHEDULE_UNIQUE_INDEX)) throw error;
        this.logger.log({ scheduleId: schedule.id, period }, 'another scheduler opened this period first');
      }
    }
    return opened;
  }
}
