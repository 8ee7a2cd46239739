import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface UsageCredentialRow {
  id: string;
  clientId: string;
  ownerId: string;
  environment: 'sandbox' | 'production';
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
}

/**
 * What the usage module reads: credentials by id or client id (to resolve a
 * reported event), and the hourly rollups (migrations/1796521235683-Enforcement.ts)
 * summed into hour or day buckets. Buckets are UTC.
 */
@Injectable()
export class UsageViewRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async findCredentials(ids: readonly string[], clientIds: readonly string[]): Promise<UsageCredentialRow[]> {
    if (ids.length === 0 && clientIds.length === 0) return [];
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT id, client_id, owner_id, environment, last_used_at, last_used_ip FROM credentials
        WHERE id = ANY($1::uuid[]) OR client_id = ANY($2::text[])`,
      [ids, clientIds],
    );
    return rows.map((r) => ({
      id: r.id as string,
      clientId: r.client_id as string,
      ownerId: r.owner_id as string,
      environment: r.environment as UsageCredentialRow['environment'],
      lastUsedAt: (r.last_used_at as Date | null) ?? null,
      lastUsedIp: (r.last_used_ip as string | null) ?? null,
    }));
  }

  /** Calls per bucket, scope and outcome; scope '' for calls that named none. */
  async buckets(
    credentialId: string,
    granularity: 'hour' | 'day',
    from: Date,
    to: Date,
  ): Promise<Array<{ start: Date; scope: string; outcome: 'allowed' | 'denied'; calls: number }>> {
    const rows: Array<{ start: Date; scope: string; outcome: 'allowed' | 'denied'; calls: string }> = await this.dataSource.query(
      `SELECT date_trunc($2, hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start, scope, outcome, sum(calls) AS calls
         FROM usage_hourly WHERE credential_id = $1 AND hour >= $3 AND hour < $4
        GROUP BY 1, 2, 3`,
      [credentialId, granularity, from, to],
    );
    return rows.map((r) => ({ ...r, calls: Number(r.calls) }));
  }

  async distinctIps(credentialId: string, granularity: 'hour' | 'day', from: Date, to: Date): Promise<Array<{ start: Date; ips: number }>> {
    const rows: Array<{ start: Date; ips: string }> = await this.dataSource.query(
      `SELECT date_trunc($2, hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start, count(DISTINCT ip) AS ips
         FROM usage_ip_hourly WHERE credential_id = $1 AND hour >= $3 AND hour < $4
        GROUP BY 1`,
      [credentialId, granularity, from, to],
    );
    return rows.map((r) => ({ start: r.start, ips: Number(r.ips) }));
  }

  async topIps(credentialId: string, from: Date, to: Date, limit: number): Promise<Array<{ ip: string; calls: number }>> {
    const rows: Array<{ ip: string; calls: string }> = await this.dataSource.query(
      `SELECT ip, sum(calls) AS calls FROM usage_ip_hourly WHERE credential_id = $1 AND hour >= $2 AND hour < $3
        GROUP BY ip ORDER BY sum(calls) DESC, ip LIMIT $4`,
      [credentialId, from, to, limit],
    );
    return rows.map((r) => ({ ip: r.ip, calls: Number(r.calls) }));
  }
}
