import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { SecretDestructionJob } from './secret-destruction-jobs';

/** A destruction the job sweep found due, and where it sits in the sweep's order. */
export interface DueDestruction extends SecretDestructionJob {
  nextAttemptAt: Date;
}

/** The secret-destruction side of revocation_credentials, one method per purpose. */
@Injectable()
export class SecretDestructionsRepository {
  /**
   * Pending destructions whose next attempt is due by `now`, in (next attempt,
   * credential id) order after `after`, through revocation_credentials_secret_pending_idx.
   */
  due(em: EntityManager, now: Date, after: { at: Date; id: string } | null, limit: number): Promise<DueDestruction[]> {
    return em.query(
      `SELECT revocation_id AS "revocationId", credential_id AS "credentialId", secret_next_attempt_at AS "nextAttemptAt"
         FROM revocation_credentials
        WHERE secret_status = 'pending' AND secret_next_attempt_at <= $1
          AND ($2::timestamptz IS NULL OR (secret_next_attempt_at, credential_id) > ($2::timestamptz, $3::uuid))
        ORDER BY secret_next_attempt_at, credential_id
        LIMIT $4`,
      [now, after?.at ?? null, after?.id ?? null, limit],
    );
  }
}
