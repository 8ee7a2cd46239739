import { Injectable, Logger } from '@nestjs/common';

import { systemContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { CampaignSchedulesService } from './campaign-schedules.service';
import { CampaignsService } from './campaigns.service';
import { CampaignClosedError } from './review-errors';
import { ReviewRemindersService } from './review-reminders.service';

export interface SweepResult {
  opened: number;
  closed: number;
  reminded: number;
}

const CLOSE_BATCH = 100;

/**
 * The scheduler's review work, one round: open the campaigns schedules owe,
 * close campaigns past their deadline, send the reminders that are due. Safe
 * to run from several replicas at once (advisory locks, unique keys, row
 * locks). Public so tests run it with the clock moved forward.
 */
@Injectable()
export class CampaignSweepService {
  private readonly logger = new Logger(CampaignSweepService.name);

  constructor(
    private readonly schedules: CampaignSchedulesService,
    private readonly campaigns: CampaignsService,
    private readonly reminders: ReviewRemindersService,
    private readonly clock: Clock,
  ) {}

  async sweep(): Promise<SweepResult> {
    const opened = await this.schedules.openDue();
    const closed = await this.closeOverdue();
    const reminded = await this.reminders.sendDue();
    return { opened, closed, reminded };
  }

  /**
   * Closes open campaigns whose deadline has passed, up to a batch per round.
   * Another replica closing one first is fine; a campaign that fails to close
   * is logged and retried next round without holding up the others.
   */
  async closeOverdue(): Promise<number> {
    let closed = 0;
    for (const id of await this.campaigns.findOverdue(this.clock.now(), CLOSE_BATCH)) {
      try {
        await this.campaigns.close(systemContext('reviews', `campaign-deadline:${id}`), id, 'deadline');
        closed += 1;
      } catch (error) {
        if (error instanceof CampaignClosedError) continue;
        this.logger.warn({ campaignId: id, err: (error as Error).message }, 'could not close an overdue campaign; next round retries');
      }
    }
    return closed;
  }
}
