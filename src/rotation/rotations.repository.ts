import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';

import { preparedQuery, PreparedStatement } from '../common/db/prepared-query';
import { fetchTimePage, Page } from '../common/pagination/pagination';
import type { SecretStoreName } from '../config/app-config';
import { RotationEntity, RotationStatus, RotationTrigger } from './entities/rotation.entity';

/** What a sweep needs to enqueue a rotation's job. */
export interface RotationRef {
  id: string;
  credentialId: string;
  secretStore: SecretStoreName;
  toVersion: number;
  fromVersion: number;
  graceEndsAt: Date | null;
}

/** Written when a step's outcome is recorded; only the fields of that step. */
export interface PublishedOutcome {
  newVersionId: string;
  newSecretSha256: string;
  newSecretRef: string;
  graceEndsAt: Date;
}

const REF_COLUMNS = `id, credential_id AS "credentialId", secret_store AS "secretStore", to_version AS "toVersion",
  from_version AS "fromVersion", grace_ends_at AS "graceEndsAt"`;

/**
 * The rotations table, one method per purpose. Every step transition is
 * conditional on the step (and status) it leaves, so two runs of one rotation
 * (a stalled job picked up while the first still runs) can never both record
 * a step: the second sees no row updated and reloads.
 */
/** Asked for every access token checked (src/oauth): a prepared statement, served by rotations_credential_created_idx. */
const LAST_IMMEDIATE_COMPLETION: PreparedStatement = {
  name: 'rotation_last_immediate_completion',
  text: `SELECT max(completed_at) AS at FROM rotations WHERE credential_id = $1 AND immediate AND status = 'completed'`,
};

@Injectable()
export class RotationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  find(id: string, em: EntityManager = this.dataSource.manager): Promise<RotationEntity | null> {
    return em.findOne(RotationEntity, { where: { id } });
  }

  lock(em: EntityManager, id: string): Promise<RotationEntity | null> {
    return em.findOne(RotationEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** The rotation that would take a credential to `toVersion` (each version is rotated to once). */
  forVersion(em: EntityManager, credentialId: string, toVersion: number): Promise<RotationEntity | null> {
    return em.findOne(RotationEntity, { where: { credentialId, toVersion } });
  }

  runningOf(em: EntityManager, credentialId: string): Promise<RotationEntity | null> {
    return em.findOne(RotationEntity, { where: { credentialId, status: 'running' } });
  }

  async insert(em: EntityManager, rotation: RotationEntity): Promise<void> {
    await em.insert(RotationEntity, rotation);
  }

  /**
   * Creates a rotation for each credential due by `at` that has none for its
   * next version, up to `limit`, in one statement over the inventory's
   * credential_rotation_schedule view (migrations/1795463000000-CredentialReadViews.ts);
   * conflicts (a rotation created meanwhile by another replica or a person)
   * are skipped, never an error.
   */
  async createDue(em: EntityManager, limit: number, at: Date, requestedBy: string): Promise<RotationRef[]> {
    return em.query(
      `WITH due AS (
         SELECT c.credential_id, c.agent_id, c.owner_id, c.environment, c.secret_store, c.secret_version, c.secret_version_id,
                c.secret_sha256
           FROM credential_rotation_schedule c
          WHERE c.next_rotation_at <= $2
            AND NOT EXISTS (SELECT 1 FROM rotations r WHERE r.credential_id = c.credential_id AND r.to_version = c.secret_version + 1)
          ORDER BY c.next_rotation_at
          LIMIT $1)
       INSERT INTO rotations (id, credential_id, owner_id, secret_store, secret_target, trigger, immediate, reason, requested_by,
                              step, status, from_version, from_version_id, from_secret_sha256, to_version, attempts,
                              next_attempt_at, started_at, created_at, updated_at)
       SELECT gen_random_uuid(), credential_id, owner_id, secret_store,
              jsonb_build_object('credentialId', credential_id, 'agentId', agent_id, 'ownerId', owner_id, 'environment', environment),
              'scheduled', false, NULL, $3, 'pending', 'running', secret_version, secret_version_id, secret_sha256,
              secret_version + 1, 0, $2, $2, $2, $2
         FROM due
       ON CONFLICT DO NOTHING
       RETURNING ${REF_COLUMNS}`,
      [limit, at, requestedBy],
    );
  }

  /**
   * The SHA-256 of every version of these credentials that rotation still
   * keeps valid at `at`: a new version once published (until it is promoted,
   * or for good if its rotation failed after publishing it), and a replaced
   * version until its grace period ends. The current version is the
   * credential's own `secret_sha256`.
   */
  async validVersionSha256s(
    em: EntityManager,
    credentialIds: string[],
    at: Date,
  ): Promise<Array<{ credentialId: string; sha256: string }>> {
    if (credentialIds.length === 0) return [];
    return em.query(
      `SELECT credential_id AS "credentialId", new_secret_sha256 AS sha256
         FROM rotations
        WHERE credential_id = ANY ($1::uuid[]) AND status <> 'completed' AND new_secret_sha256 IS NOT NULL
       UNION ALL
       SELECT credential_id, from_secret_sha256
         FROM rotations
        WHERE credential_id = ANY ($1::uuid[]) AND status = 'completed' AND retired_at IS NULL
          AND grace_ends_at > $2 AND from_secret_sha256 IS NOT NULL`,
      [credentialIds, at],
    );
  }

  /**
   * The credential and version number of a secret by its SHA-256, among the
   * versions rotations wrote (as new version) or replaced (as from version),
   * through rotations_new_secret_sha256_idx and rotations_from_secret_sha256_idx.
   */
  async versionBySha256(em: EntityManager, sha256: string): Promise<{ credentialId: string; version: number } | null> {
    const rows: Array<{ credentialId: string; version: number }> = await em.query(
      `(SELECT credential_id AS "credentialId", to_version AS version FROM rotations WHERE new_secret_sha256 = $1 LIMIT 1)
       UNION ALL
       (SELECT credential_id, from_version FROM rotations WHERE from_secret_sha256 = $1 LIMIT 1)
       LIMIT 1`,
      [sha256],
    );
    return rows[0] ?? null;
  }

  /** When the credential's latest `immediate` rotation was promoted (completed), or null if none was. */
  async lastImmediateCompletion(credentialId: string): Promise<Date | null> {
    const rows = await preparedQuery<{ at: Date | null }>(this.dataSource, LAST_IMMEDIATE_COMPLETION, [credentialId]);
    return rows[0]?.at ?? null;
  }

  /** Several rotations in one statement (the group commit's loader). */
  findMany(ids: string[]): Promise<RotationEntity[]> {
    return this.dataSource.getRepository(RotationEntity).find({ where: { id: In(ids) } });
  }

  /**
   * Records `published` for each rotation still `pending`; returns the ids it applied to.
   * `id = ANY` lets the planner reach the batch by primary key whatever it guesses of unnest's rows
   * (joined on `status = 'running'` alone, it hashed every running rotation for each batch).
   */
  async markPublishedMany(em: EntityManager, items: Array<{ id: string } & PublishedOutcome>, at: Date): Promise<Set<string>> {
    const [rows]: [Array<{ id: string }>, number] = await em.query(
      `UPDATE rotations r
          SET step = 'published', new_version_id = i.version_id, new_secret_sha256 = i.sha256, new_secret_ref = i.ref,
              grace_ends_at = i.grace_ends_at, published_at = $6, updated_at = $6
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS i(id, version_id, sha256, ref, grace_ends_at)
        WHERE r.id = ANY ($1::uuid[]) AND r.id = i.id AND r.step = 'pending' AND r.status = 'running'
        RETURNING r.id`,
      [
        items.map((i) => i.id),
        items.map((i) => i.newVersionId),
        items.map((i) => i.newSecretSha256),
        items.map((i) => i.newSecretRef),
        items.map((i) => i.graceEndsAt),
        at,
      ],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Moves rotations from `from` to `to` (verified, promoted, retired), each only if still at `from`; returns the ids it applied to. */
  async advanceMany(em: EntityManager, ids: string[], from: 'published' | 'verified' | 'promoted', at: Date): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const set =
      from === 'published'
        ? `step = 'verified'`
        : from === 'verified'
          ? `step = 'promoted', status = 'completed', completed_at = $2, error = NULL`
          : `step = 'retired', retired_at = $2`;
    const where = from === 'promoted' ? `status = 'completed' AND retired_at IS NULL` : `step = '${from}' AND status = 'running'`;
    const [rows]: [Array<{ id: string }>, number] = await em.query(
      `UPDATE rotations SET ${set}, updated_at = $2 WHERE id = ANY ($1::uuid[]) AND ${where} RETURNING id`,
      [ids, at],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * An immediate rotation retires every non-current version: the grace of
   * each earlier completed, unretired rotation of the credential ends now.
   */
  endGraceOfEarlier(em: EntityManager, credentialId: string, exceptId: string, at: Date): Promise<RotationRef[]> {
    return em
      .query(
        `UPDATE rotations SET grace_ends_at = LEAST(grace_ends_at, $3), updated_at = $3
          WHERE credential_id = $1 AND id <> $2 AND status = 'completed' AND retired_at IS NULL
          RETURNING ${REF_COLUMNS}`,
        [credentialId, exceptId, at],
      )
      .then((result: [RotationRef[], number]) => result[0]);
  }

  /** A failed try that will be tried again at `nextAttemptAt`. */
  async recordRetry(id: string, attempts: number, error: string, nextAttemptAt: Date, at: Date): Promise<boolean> {
    const result = await this.dataSource.manager.update(
      RotationEntity,
      { id, status: 'running' },
      { attempts, error, nextAttemptAt, updatedAt: at },
    );
    return (result.affected ?? 0) > 0;
  }

  /** Out of tries, or stopped by a revocation: `failed`, at the step it reached. */
  async markFailed(em: EntityManager, id: string, attempts: number, error: string, at: Date): Promise<boolean> {
    const result = await em.update(
      RotationEntity,
      { id, status: 'running' },
      { status: 'failed', attempts, error, failedAt: at, updatedAt: at },
    );
    return (result.affected ?? 0) > 0;
  }

  /** A failed rotation runs again from its recorded step (retry, or a person asking to rotate again). */
  async reopen(
    em: EntityManager,
    id: string,
    changes: Partial<Pick<RotationEntity, 'immediate' | 'reason' | 'requestedBy' | 'trigger' | 'graceEndsAt'>>,
    at: Date,
  ): Promise<boolean> {
    const result = await em.update(
      RotationEntity,
      { id, status: 'failed' },
      { ...changes, status: 'running', attempts: 0, error: null, failedAt: null, nextAttemptAt: at, updatedAt: at },
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Completed rotations whose grace period is over by `now` and whose previous
   * version is still alive, in (grace end, id) order after `after`, through
   * rotations_retire_due_idx.
   */
  dueRetirements(em: EntityManager, now: Date, after: { at: Date; id: string } | null, limit: number): Promise<RotationRef[]> {
    return em.query(
      `SELECT ${REF_COLUMNS} FROM rotations
        WHERE status = 'completed' AND retired_at IS NULL AND grace_ends_at <= $1
          AND ($2::timestamptz IS NULL OR (grace_ends_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY grace_ends_at, id LIMIT $4`,
      [now, after?.at ?? null, after?.id ?? null, limit],
    );
  }

  /**
   * Running rotations nobody has touched since `before` (their job may be
   * lost) and not waiting on a backoff, in (last touched, id) order after
   * `after`, through rotations_running_idx.
   */
  staleRunning(
    em: EntityManager,
    before: Date,
    now: Date,
    after: { at: Date; id: string } | null,
    limit: number,
  ): Promise<Array<RotationRef & { trigger: RotationTrigger; updatedAt: Date }>> {
    return em.query(
      `SELECT ${REF_COLUMNS}, trigger, updated_at AS "updatedAt" FROM rotations
        WHERE status = 'running' AND updated_at < $1 AND next_attempt_at <= $2
          AND ($3::timestamptz IS NULL OR (updated_at, id) > ($3::timestamptz, $4::uuid))
        ORDER BY updated_at, id LIMIT $5`,
      [before, now, after?.at ?? null, after?.id ?? null, limit],
    );
  }

  list(query: { status?: RotationStatus; credentialId?: string; limit?: number; cursor?: string }): Promise<Page<RotationEntity>> {
    const qb = this.dataSource.getRepository(RotationEntity).createQueryBuilder('r');
    if (query.status) qb.andWhere('r.status = :status', { status: query.status });
    if (query.credentialId) qb.andWhere('r.credential_id = :credentialId', { credentialId: query.credentialId });
    return fetchTimePage(qb, 'r', query, (row) => row);
  }

  /** Rotations by status, for the metrics gauges (one query per scrape). */
  countsByStatus(): Promise<Array<{ status: RotationStatus; n: number }>> {
    return this.dataSource.query(`SELECT status, count(*)::int AS n FROM rotations WHERE status IN ('running', 'failed') GROUP BY status`);
  }
}
