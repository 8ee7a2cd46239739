import { DAY_MS } from '../common/clock/clock';

/** Days before the deadline at which owners are reminded. */
export const REMINDER_DAYS_BEFORE = [7, 3, 1] as const;
/** After the deadline, owners who have not signed off are reminded daily for this many days. */
export const OVERDUE_REMINDER_DAYS = 30;

/**
 * The reminder stage a campaign is in at `now`: `due_in_7d` from 7 days before
 * `dueAt`, then `due_in_3d`, `due_in_1d`, and from `dueAt` on one stage per
 * day, `overdue_1`, `overdue_2`, ... up to OVERDUE_REMINDER_DAYS. Null when no
 * reminder is due yet or any more. Each (campaign, owner, stage) is sent once;
 * a sweep that missed a stage sends only the current one.
 */
export function reminderStage(dueAt: Date, now: Date): string | null {
  const untilDue = dueAt.getTime() - now.getTime();
  if (untilDue > 0) {
    let stage: string | null = null;
    for (const days of REMINDER_DAYS_BEFORE) {
      if (untilDue <= days * DAY_MS) stage = `due_in_${days}d`;
    }
    return stage;
  }
  const overdueDay = Math.floor(-untilDue / DAY_MS) + 1;
  return overdueDay <= OVERDUE_REMINDER_DAYS ? `overdue_${overdueDay}` : null;
}
