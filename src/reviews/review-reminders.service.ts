import { Injectable } from '@nestjs/common';

/** Reminders to owners before and after a campaign's deadline (wired to the outbox separately). */
@Injectable()
export class ReviewRemindersService {
  async sendDue(): Promise<number> {
    return 0;
  }
}
