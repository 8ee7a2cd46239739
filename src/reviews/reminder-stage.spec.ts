import { DAY_MS, HOUR_MS } from '../common/clock/clock';
import { OVERDUE_REMINDER_DAYS, reminderStage } from './reminder-stage';

describe('reminderStage', () => {
  const due = new Date('2030-03-01T12:00:00Z');
  const at = (ms: number) => new Date(due.getTime() + ms);

  it('is silent until 7 days before the deadline', () => {
    expect(reminderStage(due, at(-14 * DAY_MS))).toBeNull();
    expect(reminderStage(due, at(-7 * DAY_MS - 1))).toBeNull();
  });

  it('steps through 7, 3 and 1 days before', () => {
    expect(reminderStage(due, at(-7 * DAY_MS))).toBe('due_in_7d');
    expect(reminderStage(due, at(-4 * DAY_MS))).toBe('due_in_7d');
    expect(reminderStage(due, at(-3 * DAY_MS))).toBe('due_in_3d');
    expect(reminderStage(due, at(-1 * DAY_MS - 1))).toBe('due_in_3d');
    expect(reminderStage(due, at(-1 * DAY_MS))).toBe('due_in_1d');
    expect(reminderStage(due, at(-1))).toBe('due_in_1d');
  });

  it('is daily after the deadline, then stops', () => {
    expect(reminderStage(due, due)).toBe('overdue_1');
    expect(reminderStage(due, at(23 * HOUR_MS))).toBe('overdue_1');
    expect(reminderStage(due, at(DAY_MS))).toBe('overdue_2');
    expect(reminderStage(due, at((OVERDUE_REMINDER_DAYS - 1) * DAY_MS))).toBe(`overdue_${OVERDUE_REMINDER_DAYS}`);
    expect(reminderStage(due, at(OVERDUE_REMINDER_DAYS * DAY_MS))).toBeNull();
  });
});
