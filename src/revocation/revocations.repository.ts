import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

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

  /**
   * Records credentials revoked by `revocation` (their secrets' destruction
   * pending, due at once), and with `withRevocation` the revocation itself, in
   * the same statement: a revoke call waits on every round trip.
   */
  async insertRevoked(
    em: EntityManager,
    revocation: RevocationEntity,
    rows: RevokedCredentialRow[],
    withRevocation: boolean,
  ): Promise<void> {
    const insertRows = `INSERT INTO revocation_credentials (credential_id, revocation_id, event_id, secret_store, secret_target,
                                                      secret_status, secret_attempts, secret_next_attempt_at)
       SELECT c.credential_id, $1, c.event_id, c.secret_store, c.secret_target, 'pending', 0, $2
         FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::jsonb[]) AS c(credential_id, event_id, secret_store, secret_target)`;
    const rowParams = [
      revocation.id,
      revocation.revokedAt,
      rows.map((r) => r.credentialId),
      rows.map((r) => r.eventId),
      rows.map((r) => r.secretStore),
      rows.map((r) => JSON.stringify(r.secretTarget)),
    ];
    if (!withRevocation) {
      await em.query(insertRows, rowParams);
      return;
    }
    await em.query(
      `WITH revocation AS (
         INSERT INTO revocations (id, agent_id, owner_id, reason, actor, request_id, revoked_at, created_at)
         VALUES ($1, $7, $8, $9, $10, $11, $2, $2))
       ${insertRows}`,
      [...rowParams, revocation.agentId, revocation.ownerId, revocation.reason, JSON.stringify(revocation.actor), revocation.requestId],
    );
  }

  /** A revocation that turned out to span several owners belongs to none. */
  async clearOwner(em: EntityManager, id: string): Promise<void> {
    await em.query('UPDATE revocations SET owner_id = NULL WHERE id = $1', [id]);
  }
}
