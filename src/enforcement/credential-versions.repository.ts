import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { preparedQuery, PreparedStatement } from '../common/db/prepared-query';

/** What enforcement needs of one credential: its terms and every version a gateway has been told of. */
export interface CredentialEnforcementRow {
  credentialId: string;
  clientId: string;
  agentId: string;
  ownerId: string;
  environment: 'sandbox' | 'production';
  status: 'pending_approval' | 'active' | 'rejected' | 'revoked';
  scopes: string[];
  rateLimitRequests: number;
  rateLimitPerSeconds: number;
  ipAllowlist: string[];
  versions: VersionRow[];
}

/** One version: valid until `validUntil` (null: no end yet) unless `retiredAt` is set. */
export interface VersionRow {
  version: number;
  sha256: string;
  validUntil: Date | null;
  retiredAt: Date | null;
}

interface RawRow extends Omit<CredentialEnforcementRow, 'versions'> {
  versions: Array<{ version: number; sha256: string; validUntil: string | null; retiredAt: string | null }>;
}

const ENFORCEMENT_COLUMNS = `c.id AS "credentialId", c.client_id AS "clientId", c.agent_id AS "agentId", c.owner_id AS "ownerId",
  c.environment, c.status, c.scopes, c.rate_limit_requests AS "rateLimitRequests",
  c.rate_limit_per_seconds AS "rateLimitPerSeconds", c.ip_allowlist AS "ipAllowlist",
  (SELECT coalesce(json_agg(json_build_object('version', v.version, 'sha256', v.secret_sha256,
                                              'validUntil', v.valid_until, 'retiredAt', v.retired_at)
                            ORDER BY v.version), '[]')
     FROM credential_enforcement_versions v WHERE v.credential_id = c.id) AS versions`;

/**
 * The credential a presented key's SHA-256 belongs to (any version it ever had
 * that a gateway was told of), with all its versions. The view's branches are
 * each reached through an index on their hash column (migration Enforcement).
 */
const BY_KEY_SHA256: PreparedStatement = {
  name: 'enforcement_by_key_sha256',
  text: `SELECT ${ENFORCEMENT_COLUMNS}
           FROM credentials c
          WHERE c.id IN (SELECT credential_id FROM credential_enforcement_versions WHERE secret_sha256 = $1)`,
};

/**
 * Reads the enforcement view of credentials (credential_enforcement_versions,
 * migrations/1796521235683-Enforcement.ts) for the hot path and for gateway
 * snapshots. Only a key's hash ever reaches Postgres.
 */
@Injectable()
export class CredentialVersionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async findByKeySha256(sha256Hex: string): Promise<CredentialEnforcementRow[]> {
    const rows = await preparedQuery<RawRow>(this.dataSource, BY_KEY_SHA256, [sha256Hex]);
    return rows.map(parse);
  }

  /** The enforcement view of these credentials (any status). */
  async findByIds(credentialIds: readonly string[], em: EntityManager = this.dataSource.manager): Promise<CredentialEnforcementRow[]> {
    if (credentialIds.length === 0) return [];
    const rows: RawRow[] = await em.query(`SELECT ${ENFORCEMENT_COLUMNS} FROM credentials c WHERE c.id = ANY ($1::uuid[]) ORDER BY c.id`, [
      credentialIds,
    ]);
    return rows.map(parse);
  }
}

function parse(row: RawRow): CredentialEnforcementRow {
  return {
    ...row,
    versions: row.versions.map((v) => ({
      version: v.version,
      sha256: v.sha256,
      validUntil: v.validUntil ? new Date(v.validUntil) : null,
      retiredAt: v.retiredAt ? new Date(v.retiredAt) : null,
    })),
  };
}
