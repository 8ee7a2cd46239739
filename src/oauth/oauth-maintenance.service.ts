import { Injectable } from '@nestjs/common';

import { Clock } from '../common/clock/clock';
import { RevokedTokensRepository } from './revoked-tokens.repository';
import { SigningKeysService } from './signing-keys.service';

const REVOKED_DELETE_BATCH = 10_000;

/** One round of OAuth housekeeping: the next signing key when it is due, and revocations of tokens that have expired anyway. */
@Injectable()
export class OAuthMaintenanceService {
  constructor(
    private readonly keys: SigningKeysService,
    private readonly revoked: RevokedTokensRepository,
    private readonly clock: Clock,
  ) {}

  async sweep(): Promise<{ signingKeysCreated: number; revokedTokensForgotten: number }> {
    const created = await this.keys.ensureKeys();
    const forgotten = await this.revoked.deleteExpired(this.clock.now(), REVOKED_DELETE_BATCH);
    return { signingKeysCreated: created.length, revokedTokensForgotten: forgotten };
  }
}
