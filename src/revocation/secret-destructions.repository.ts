import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';

import { RevocationCredentialEntity } from './entities/revocation-credential.entity';
import type { SecretDestructionJob } from './secret-destruction-jobs';

/** A destruction the job sweep found due, and where it sits in the sweep's order. */
export interface DueDestruction extends SecretDestructionJob {
  nextAttemptAt: Date;
}

/** The secret-destruction side of revocation_credentials, one method per purpose. */
@Injectable()
export class SecretDestructionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The destructions of these credentials that are still pending. */
  pendingOf(credentialIds: string[]): Promise<RevocationCredentialEntity[]> {
    return this.dataSource
      .getRepository(RevocationCredentialEntity)
      .find({ where: { credentialId: In(credentialIds), secretStatus: 'pending' } });
  }

  /** A failed attempt, if the destruction is still pending: how many so far, the error, and when to try next. */
  async recordFailure(credentialId: string, attempts: number, error: string, nextAttemptAt: Date): Promise<void> {
    await this.dataSource
      .getRepository(RevocationCredentialEntity)
      .update(
        { credentialId, secretStatus: 'pending' },
        { secretAttempts: attempts, secretLastError: error, secretNextAttemptAt: nextAttemptAt },
      );
  }

  /** Destructions the stores confirmed, each only if still pending; returns those it recorded. */
  async markDestroyed(
    em: EntityManager,
    credentialIds: string[],
    at: Date,
  ): Promise<Array<{ credential_id: string; revocation_id: string; secret_store: string; secret_attempts: number }>> {
    const [rows] = await em.query(
      `UPDATE revocation_credentials
          SET secret_status = 'destroyed', secret_destroyed_at = $2, secret_attempts = secret_attempts + 1, secret_last_error = NULL
        WHERE credential_id = ANY($1::uuid[]) AND secret_status = 'pending'
        RETURNING credential_id, revocation_id, secret_store, secret_attempts`,
      [credentialIds, at],
    );
    return rows;
  }

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
