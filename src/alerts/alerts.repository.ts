import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { SqlParams } from '../common/db/sql-params';
import type { TimeCursor } from '../common/pagination/pagination';
import type { AlertAction, AlertSeverity, AlertStatus, AlertType, PolicyAction } from './alert-types';

/** An alert as stored. */
export interface AlertRow {
  id: string;
  type: AlertType;
  severity: AlertSeverity;
  status: AlertStatus;
  credentialId: string;
  agentId: string;
  ownerId: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  count: number;
  evidence: Record<string, unknown>;
  action: AlertAction | null;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  resolvedAt: Date | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
  createdAt: Date;
}

export interface NewAlert {
  id: string;
  type: AlertType;
  severity: AlertSeverity;
  credentialId: string;
  agentId: string;
  ownerId: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  count: number;
  evidence: Record<string, unknown>;
}

export interface AlertFilter {
  status?: AlertStatus;
  type?: AlertType;
  credentialId?: string;
  ownerId?: string;
}

/** What detection needs of a credential: who it belongs to, its allowlist, when it was last used. */
export interface CredentialFacts {
  id: string;
  agentId: string;
  ownerId: string;
  status: string;
  ipAllowlist: string[];
  lastUsedAt: Date | null;
  createdAt: Date;
}

export interface SpikeRow {
  credentialId: string;
  agentId: string;
  ownerId: string;
  calls: number;
  median: number;
}

const COLUMNS = `id, type, severity, status, credential_id AS "credentialId", agent_id AS "agentId", owner_id AS "ownerId",
  first_seen_at AS "firstSeenAt", last_seen_at AS "lastSeenAt", count, evidence, action,
  acknowledged_at AS "acknowledgedAt", acknowledged_by AS "acknowledgedBy", resolved_at AS "resolvedAt",
  resolved_by AS "resolvedBy", resolution_note AS "resolutionNote", created_at AS "createdAt"`;

/**
 * The alerts module's tables (migrations/1796530745461-Alerts.ts) and what
 * detection reads: credentials (owner, allowlist, last use; read only, as the
 * usage module's repository reads them) and the enforcement module's hourly
 * rollups (usage_hourly) for volume spikes.
 */
@Injectable()
export class AlertsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Opens alerts, or counts into the unresolved one of each's type and
   * credential (the partial unique index alerts_one_open_key), in one
   * statement: `count` grows, `lastSeenAt` moves forward, `evidence` becomes
   * the latest sighting's. No two may share a type and credential (a
   * statement cannot update a row twice). Answers a row per alert, in the
   * order given; `inserted` says which happened.
   */
  async upsertMany(em: EntityManager, alerts: readonly NewAlert[], at: Date): Promise<Array<AlertRow & { inserted: boolean }>> {
    if (alerts.length === 0) return [];
    const rows: Array<AlertRow & { inserted: boolean }> = await em.query(
      `INSERT INTO alerts (id, type, severity, status, credential_id, agent_id, owner_id, first_seen_at, last_seen_at, count,
                           evidence, action, created_at, updated_at)
       SELECT id, type, severity, 'open', credential_id, agent_id, owner_id, first_seen_at, last_seen_at, count, evidence, NULL, $2, $2
         FROM jsonb_to_recordset($1::jsonb)
           AS a(id uuid, type text, severity text, credential_id uuid, agent_id uuid, owner_id uuid, first_seen_at timestamptz,
                last_seen_at timestamptz, count int, evidence jsonb)
       ON CONFLICT (type, credential_id) WHERE status <> 'resolved'
       DO UPDATE SET count = alerts.count + EXCLUDED.count,
                     last_seen_at = greatest(alerts.last_seen_at, EXCLUDED.last_seen_at),
                     first_seen_at = least(alerts.first_seen_at, EXCLUDED.first_seen_at),
                     evidence = EXCLUDED.evidence,
                     updated_at = EXCLUDED.updated_at
       RETURNING ${COLUMNS}, (xmax = 0) AS inserted`,
      [
        JSON.stringify(
          alerts.map((a) => ({
            id: a.id,
            type: a.type,
            severity: a.severity,
            credential_id: a.credentialId,
            agent_id: a.agentId,
            owner_id: a.ownerId,
            first_seen_at: a.firstSeenAt,
            last_seen_at: a.lastSeenAt,
            count: a.count,
            evidence: a.evidence,
          })),
        ),
        at,
      ],
    );
    // RETURNING promises no order: matched back by (type, credential), unique within the statement.
    const byKey = new Map(rows.map((r) => [`${r.type}|${r.credentialId}`, r]));
    return alerts.map((a) => {
      const row = byKey.get(`${a.type}|${a.credentialId}`);
      if (!row) throw new Error(`the upsert of a ${a.type} alert returned no row`);
      return row;
    });
  }

  async setAction(em: EntityManager, id: string, action: AlertAction, at: Date): Promise<void> {
    await em.query(`UPDATE alerts SET action = $2, updated_at = $3 WHERE id = $1`, [id, JSON.stringify(action), at]);
  }

  async findById(id: string): Promise<AlertRow | null> {
    const rows: AlertRow[] = await this.dataSource.query(`SELECT ${COLUMNS} FROM alerts WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async lockById(em: EntityManager, id: string): Promise<AlertRow | null> {
    const rows: AlertRow[] = await em.query(`SELECT ${COLUMNS} FROM alerts WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0] ?? null;
  }

  async acknowledge(em: EntityManager, id: string, by: string, at: Date): Promise<AlertRow> {
    const rows: AlertRow[] = await em.query(
      `WITH u AS (UPDATE alerts SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $2, updated_at = $3
                    WHERE id = $1 RETURNING *)
       SELECT ${COLUMNS} FROM u`,
      [id, by, at],
    );
    return rows[0];
  }

  async resolve(em: EntityManager, id: string, by: string, note: string, at: Date): Promise<AlertRow> {
    const rows: AlertRow[] = await em.query(
      `WITH u AS (UPDATE alerts SET status = 'resolved', resolved_at = $3, resolved_by = $2, resolution_note = $4, updated_at = $3
                    WHERE id = $1 RETURNING *)
       SELECT ${COLUMNS} FROM u`,
      [id, by, at, note],
    );
    return rows[0];
  }

  /** Newest first by (createdAt, id); `limit + 1` rows so the caller knows whether more follow. */
  list(filter: AlertFilter, after: TimeCursor | null, limit: number): Promise<AlertRow[]> {
    const params = new SqlParams();
    const where: string[] = [];
    if (filter.status) where.push(`status = ${params.add(filter.status)}`);
    if (filter.type) where.push(`type = ${params.add(filter.type)}`);
    if (filter.credentialId) where.push(`credential_id = ${params.add(filter.credentialId)}`);
    if (filter.ownerId) where.push(`owner_id = ${params.add(filter.ownerId)}`);
    if (after) where.push(`(created_at, id) < (${params.add(after.createdAt)}, ${params.add(after.id)})`);
    return this.dataSource.query(
      `SELECT ${COLUMNS} FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
  }

  async policies(em: EntityManager = this.dataSource.manager): Promise<Map<AlertType, PolicyAction>> {
    const rows: Array<{ type: AlertType; action: PolicyAction }> = await em.query(`SELECT type, action FROM alert_policies`);
    return new Map(rows.map((r) => [r.type, r.action]));
  }

  async putPolicy(em: EntityManager, type: AlertType, action: PolicyAction, by: string, at: Date): Promise<PolicyAction> {
    const rows: Array<{ previous: PolicyAction | null }> = await em.query(
      `WITH previous AS (SELECT action FROM alert_policies WHERE type = $1 FOR UPDATE)
       INSERT INTO alert_policies (type, action, updated_at, updated_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (type) DO UPDATE SET action = EXCLUDED.action, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
       RETURNING (SELECT action FROM previous) AS previous`,
      [type, action, at, by],
    );
    return rows[0]?.previous ?? 'none';
  }

  async credentialFacts(ids: readonly string[]): Promise<CredentialFacts[]> {
    if (ids.length === 0) return [];
    return this.dataSource.query(
      `SELECT id, agent_id AS "agentId", owner_id AS "ownerId", status, ip_allowlist AS "ipAllowlist",
              last_used_at AS "lastUsedAt", created_at AS "createdAt"
         FROM credentials WHERE id = ANY ($1::uuid[])`,
      [ids],
    );
  }

  /**
   * Adds denials to each credential's minute and answers the totals before and
   * after: a minute whose total crossed the threshold in this call is a burst
   * (seen once however the denials were split across flushes and replicas).
   */
  async addAuthFailures(
    rows: ReadonlyArray<{ credentialId: string; minute: Date; denials: number }>,
  ): Promise<Array<{ credentialId: string; minute: Date; before: number; after: number }>> {
    if (rows.length === 0) return [];
    const result: Array<{ credentialId: string; minute: Date; after: number; added: number }> = await this.dataSource.query(
      `INSERT INTO alert_auth_failures AS a (credential_id, minute, denials)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int[])
       ON CONFLICT (credential_id, minute) DO UPDATE SET denials = a.denials + EXCLUDED.denials
       RETURNING credential_id AS "credentialId", minute, denials AS after,
                 (SELECT d FROM unnest($1::uuid[], $2::timestamptz[], $3::int[]) AS x(c, m, d)
                   WHERE x.c = a.credential_id AND x.m = a.minute) AS added`,
      [rows.map((r) => r.credentialId), rows.map((r) => r.minute), rows.map((r) => r.denials)],
    );
    return result.map((r) => ({ credentialId: r.credentialId, minute: r.minute, before: r.after - r.added, after: r.after }));
  }

  /** The networks these credentials were used from since `since`, with when last. */
  networksSince(
    credentialIds: readonly string[],
    since: Date,
  ): Promise<Array<{ credentialId: string; network: string; lastSeenAt: Date }>> {
    if (credentialIds.length === 0) return Promise.resolve([]);
    return this.dataSource.query(
      `SELECT credential_id AS "credentialId", network, last_seen_at AS "lastSeenAt"
         FROM alert_networks WHERE credential_id = ANY ($1::uuid[]) AND last_seen_at >= $2`,
      [credentialIds, since],
    );
  }

  async touchNetworks(rows: ReadonlyArray<{ credentialId: string; network: string; at: Date }>): Promise<void> {
    if (rows.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO alert_networks AS n (credential_id, network, last_seen_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[])
       ON CONFLICT (credential_id, network) DO UPDATE SET last_seen_at = greatest(n.last_seen_at, EXCLUDED.last_seen_at)`,
      [rows.map((r) => r.credentialId), rows.map((r) => r.network), rows.map((r) => r.at)],
    );
  }

  /** The latest hour the spike sweep evaluated, or null. */
  async lastSpikeHour(em: EntityManager): Promise<Date | null> {
    const rows: Array<{ hour: Date | null }> = await em.query(`SELECT max(hour) AS hour FROM alert_spike_hours`);
    return rows[0]?.hour ?? null;
  }

  /** Marks an hour evaluated; false when it already was. */
  async claimSpikeHour(em: EntityManager, hour: Date, at: Date): Promise<boolean> {
    const rows: unknown[] = await em.query(
      `INSERT INTO alert_spike_hours (hour, evaluated_at, alerts) VALUES ($1, $2, 0) ON CONFLICT (hour) DO NOTHING RETURNING hour`,
      [hour, at],
    );
    return rows.length === 1;
  }

  async countSpikeHour(em: EntityManager, hour: Date, alerts: number): Promise<void> {
    await em.query(`UPDATE alert_spike_hours SET alerts = $2 WHERE hour = $1`, [hour, alerts]);
  }

  /**
   * Credentials whose calls in `hour` (all outcomes) exceed `minCalls` and
   * `factor` times the median of their hourly calls over the `baselineHours`
   * before it (an hour without calls counts as 0), among credentials that
   * existed through the whole baseline.
   */
  spikes(em: EntityManager, hour: Date, minCalls: number, factor: number, baselineHours: number): Promise<SpikeRow[]> {
    return em.query(
      `WITH busy AS (
         SELECT credential_id, sum(calls)::bigint AS calls FROM usage_hourly WHERE hour = $1
          GROUP BY credential_id HAVING sum(calls) > $2),
       hours AS (
         SELECT b.credential_id, s.hour, coalesce((SELECT sum(u.calls) FROM usage_hourly u
                                                   WHERE u.credential_id = b.credential_id AND u.hour = s.hour), 0) AS calls
           FROM busy b CROSS JOIN generate_series($1::timestamptz - make_interval(hours => $4::int), $1::timestamptz - interval '1 hour',
                                                  interval '1 hour') AS s(hour)),
       baseline AS (
         SELECT credential_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY calls) AS median FROM hours GROUP BY credential_id)
       SELECT c.id AS "credentialId", c.agent_id AS "agentId", c.owner_id AS "ownerId", b.calls::int AS calls, bl.median::float8 AS median
         FROM busy b JOIN baseline bl USING (credential_id) JOIN credentials c ON c.id = b.credential_id
        WHERE b.calls > $3::float8 * bl.median AND c.created_at <= $1::timestamptz - make_interval(hours => $4::int)`,
      [hour, minCalls, factor, baselineHours],
    );
  }

  /** Forgets per-minute denial counts older than `minutesBefore` and networks unseen since `networksBefore`. */
  async prune(minutesBefore: Date, networksBefore: Date): Promise<{ minutes: number; networks: number }> {
    const minutes: Array<{ n: number }> = await this.dataSource.query(
      `WITH d AS (DELETE FROM alert_auth_failures WHERE minute < $1 RETURNING 1) SELECT count(*)::int AS n FROM d`,
      [minutesBefore],
    );
    const networks: Array<{ n: number }> = await this.dataSource.query(
      `WITH d AS (DELETE FROM alert_networks WHERE last_seen_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d`,
      [networksBefore],
    );
    return { minutes: minutes[0].n, networks: networks[0].n };
  }
}
