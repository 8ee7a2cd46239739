import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { SqlParams } from '../common/db/sql-params';
import type { SecretTarget } from '../secret-stores/secret-store';
import { RevocationEntity } from './entities/revocation.entity';
import { RevocationCredentialEntity } from './entities/revocation-credential.entity';

/** A credential a revocation revokes: its `credential.revoked` event and where its secret lives (to destroy it). */
export interface RevokedCredentialRow {
  credentialId: string;
  eventId: string;
  secretStore: string;
  secretTarget: SecretTarget;
}

/** A revocation as a list shows it: the record and how many credentials it revoked. */
export interface RevocationListRow extends RevocationEntity {
  credentialCount: number;
}

/** The revocations table and its credentials (revocation_credentials), one method per purpose. */
@Injectable()
export class RevocationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  findById(id: string): Promise<RevocationEntity | null> {
    return this.dataSource.getRepository(RevocationEntity).findOne({ where: { id } });
  }

  findIn(em: EntityManager, id: string): Promise<RevocationEntity | null> {
    return em.findOne(RevocationEntity, { where: { id } });
  }

  /** An agent's latest revocation (the one that decommissioned it). */
  latestOfAgent(em: EntityManager, agentId: string): Promise<RevocationEntity | null> {
    return em.findOne(RevocationEntity, { where: { agentId }, order: { createdAt: 'DESC' } });
  }

  /** The revocation row of a credential (each credential is revoked once). */
  credentialRow(em: EntityManager, credentialId: string): Promise<RevocationCredentialEntity | null> {
    return em.findOne(RevocationCredentialEntity, { where: { credentialId } });
  }

  /** A revocation's credentials, by credential id. */
  credentialsOf(revocationId: string, em: EntityManager = this.dataSource.manager): Promise<RevocationCredentialEntity[]> {
    return em.find(RevocationCredentialEntity, { where: { revocationId }, order: { credentialId: 'ASC' } });
  }

  /** The `credential.revoked` event of each credential a revocation revoked: what its deliveries are counted over. */
  async eventIdsOf(revocationId: string): Promise<string[]> {
    const rows: Array<{ eventId: string }> = await this.dataSource.query(
      'SELECT event_id AS "eventId" FROM revocation_credentials WHERE revocation_id = $1',
      [revocationId],
    );
    return rows.map((r) => r.eventId);
  }

  /** How many credentials a revocation revoked, and how many of their secrets are destroyed or still pending: one aggregate. */
  async countsOf(revocationId: string): Promise<{ credentials: number; pending: number; destroyed: number }> {
    const rows: Array<{ credentials: number; pending: number; destroyed: number }> = await this.dataSource.query(
      `SELECT count(*)::int AS credentials,
              count(*) FILTER (WHERE secret_status = 'pending')::int AS pending,
              count(*) FILTER (WHERE secret_status = 'destroyed')::int AS destroyed
         FROM revocation_credentials WHERE revocation_id = $1`,
      [revocationId],
    );
    return rows[0];
  }

  /** The events of several revocations, each labelled with its revocation. */
  eventsOfMany(revocationIds: string[]): Promise<Array<{ revocationId: string; eventId: string }>> {
    if (revocationIds.length === 0) return Promise.resolve([]);
    return this.dataSource.query(
      'SELECT revocation_id AS "revocationId", event_id AS "eventId" FROM revocation_credentials WHERE revocation_id = ANY ($1::uuid[])',
      [revocationIds],
    );
  }

  /**
   * Revocations newest first by (created_at, id), strictly after `after` in
   * that order, made at or after `since`; `limit` rows, each with its
   * credential count.
   */
  async listPage(query: { since?: Date; after: { createdAt: Date; id: string } | null; limit: number }): Promise<RevocationListRow[]> {
    const params = new SqlParams();
    const where: string[] = [];
    if (query.since) where.push(`r.created_at >= ${params.add(query.since)}`);
    if (query.after) where.push(`(r.created_at, r.id) < (${params.add(query.after.createdAt)}, ${params.add(query.after.id)})`);
    return this.dataSource.query(
      `SELECT r.id, r.agent_id AS "agentId", r.owner_id AS "ownerId", r.reason, r.actor, r.request_id AS "requestId",
              r.revoked_at AS "revokedAt", r.created_at AS "createdAt",
              (SELECT count(*)::int FROM revocation_credentials rc WHERE rc.revocation_id = r.id) AS "credentialCount"
         FROM revocations r ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY r.created_at DESC, r.id DESC LIMIT ${params.add(query.limit)}`,
      params.values,
    );
  }

  /**
   * Records credentials revoked by several revocations at once (a group
   * commit's single-credential revocations, or one chunk of one revocation):
   * every credential row, each with its secret's destruction pending and due
   * for the job sweep at its `firstSweepAt`, and every revocation marked
   * `withRevocation` itself, in one statement: a revoke call waits on every round trip.
   */
  async insertRevokedMany(
    em: EntityManager,
    parts: Array<{ revocation: RevocationEntity; rows: Array<RevokedCredentialRow & { firstSweepAt: Date }>; withRevocation: boolean }>,
  ): Promise<void> {
    const rows = parts.flatMap((p) => p.rows.map((row) => ({ ...row, revocationId: p.revocation.id })));
    const insertRows = `INSERT INTO revocation_credentials (credential_id, revocation_id, event_id, secret_store, secret_target,
                                                      secret_status, secret_attempts, secret_next_attempt_at)
       SELECT c.credential_id, c.revocation_id, c.event_id, c.secret_store, c.secret_target, 'pending', 0, c.first_sweep_at
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $6::timestamptz[])
              AS c(credential_id, revocation_id, event_id, secret_store, secret_target, first_sweep_at)`;
    const rowParams = [
      rows.map((r) => r.credentialId),
      rows.map((r) => r.revocationId),
      rows.map((r) => r.eventId),
      rows.map((r) => r.secretStore),
      rows.map((r) => JSON.stringify(r.secretTarget)),
      rows.map((r) => r.firstSweepAt),
    ];
    const created = parts.filter((p) => p.withRevocation).map((p) => p.revocation);
    if (created.length === 0) {
      await em.query(insertRows, rowParams);
      return;
    }
    await em.query(
      `WITH revocation AS (
         INSERT INTO revocations (id, agent_id, owner_id, reason, actor, request_id, revoked_at, created_at)
         SELECT r.id, r.agent_id, r.owner_id, r.reason, r.actor, r.request_id, r.revoked_at, r.revoked_at
           FROM unnest($7::uuid[], $8::uuid[], $9::uuid[], $10::text[], $11::jsonb[], $12::text[], $13::timestamptz[])
                AS r(id, agent_id, owner_id, reason, actor, request_id, revoked_at))
       ${insertRows}`,
      [
        ...rowParams,
        created.map((r) => r.id),
        created.map((r) => r.agentId),
        created.map((r) => r.ownerId),
        created.map((r) => r.reason),
        created.map((r) => JSON.stringify(r.actor)),
        created.map((r) => r.requestId),
        created.map((r) => r.revokedAt),
      ],
    );
  }

  /** A revocation that turned out to span several owners belongs to none. */
  async clearOwner(em: EntityManager, id: string): Promise<void> {
    await em.query('UPDATE revocations SET owner_id = NULL WHERE id = $1', [id]);
  }
}
