import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { advisoryXactLock } from '../common/db/advisory-lock';

/** One credential of a snapshot, with every version a gateway must accept. */
export interface SnapshotRow {
  credentialId: string;
  clientId: string;
  agentId: string;
  ownerId: string;
  environment: 'sandbox' | 'production';
  scopes: string[];
  rateLimitRequests: number;
  rateLimitPerSeconds: number;
  ipAllowlist: string[];
  versions: Array<{ version: number; secretSha256: string; validUntil: string | null }>;
}

/** One event of a gateway's log, as its webhook carried it. */
export interface LoggedEvent {
  position: string;
  id: string;
  payload: string;
}

/** Events given positions per sequencer statement at most. */
const SEQUENCE_BATCH = 10_000;

/**
 * The reads behind the gateway sync routes: the event log (outbox_events in
 * commit order, see migrations/1796522481126-GatewayEventLog.ts) and the
 * snapshot of the credentials a gateway must accept.
 */
@Injectable()
export class GatewaySyncRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Gives every committed event without a position the next positions, in
   * `seq` order, one sequencer at a time; returns the highest position
   * given so far. Each statement sees only committed events, and one
   * credential's events are committed in `seq` order (publishers hold its row
   * lock), so positions keep each credential's order, and an event committed
   * later always gets a higher position than one a reader has already seen.
   */
  async sequence(): Promise<string> {
    return this.dataSource.transaction(async (em) => {
      await advisoryXactLock(em, 'gateway-event-log');
      for (;;) {
        const rows: Array<{ n: number }> = await em.query(
          `WITH todo AS (
             SELECT id, row_number() OVER (ORDER BY seq) AS n
               FROM (SELECT id, seq FROM outbox_events WHERE log_position IS NULL ORDER BY seq LIMIT $1) t),
           base AS (SELECT coalesce(max(log_position), 0) AS head FROM outbox_events)
           UPDATE outbox_events e SET log_position = base.head + todo.n
             FROM todo, base
            WHERE e.id = todo.id
           RETURNING 1 AS n`,
          [SEQUENCE_BATCH],
        );
        if (rows.length < SEQUENCE_BATCH) break;
      }
      return this.head(em);
    });
  }

  /** The highest position given so far ('0' before any event). */
  async head(em: EntityManager = this.dataSource.manager): Promise<string> {
    const rows: Array<{ head: string }> = await em.query(`SELECT coalesce(max(log_position), 0)::text AS head FROM outbox_events`);
    return rows[0].head;
  }

  /** A gateway's events after a position, in order: those it got a delivery of (the webhooks it receives). */
  events(gatewayId: string, after: string, limit: number): Promise<LoggedEvent[]> {
    return this.dataSource.query(
      `SELECT e.log_position::text AS position, e.id, e.payload
         FROM outbox_events e
         JOIN deliveries d ON d.event_id = e.id AND d.gateway_id = $1
        WHERE e.log_position > $2
        ORDER BY e.log_position
        LIMIT $3`,
      [gatewayId, after, limit],
    );
  }

  /**
   * Active credentials of these environments after `afterId` (id order), each
   * with the versions the gateways have been told are valid and not yet ended:
   * the enforcement view credential_enforcement_versions
   * (migrations/1796521235683-Enforcement.ts), the same rows /v1/verify
   * accepts. A version the view lists twice (the current one is also the new
   * version of a rotation not yet completed) appears once, without an end.
   */
  snapshotPage(environments: readonly string[], afterId: string | null, limit: number, now: Date): Promise<SnapshotRow[]> {
    return this.dataSource.query(
      `SELECT c.id AS "credentialId", c.client_id AS "clientId", c.agent_id AS "agentId", c.owner_id AS "ownerId",
              c.environment, c.scopes, c.rate_limit_requests AS "rateLimitRequests",
              c.rate_limit_per_seconds AS "rateLimitPerSeconds", c.ip_allowlist AS "ipAllowlist",
              coalesce((
                SELECT json_agg(json_build_object('version', v.version, 'secretSha256', v.sha256,
                                                  'validUntil', to_char(v.valid_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                                ORDER BY v.version)
                  FROM (SELECT DISTINCT ON (e.version) e.version, e.secret_sha256 AS sha256, e.valid_until
                          FROM credential_enforcement_versions e
                         WHERE e.credential_id = c.id AND e.retired_at IS NULL
                         ORDER BY e.version, e.valid_until DESC NULLS FIRST) v
                 WHERE v.valid_until IS NULL OR v.valid_until > $4), '[]'::json) AS versions
         FROM credentials c
        WHERE c.status = 'active' AND c.environment = ANY ($1::text[]) AND ($2::uuid IS NULL OR c.id > $2::uuid)
        ORDER BY c.id
        LIMIT $3`,
      [environments, afterId, limit, now],
    );
  }
}
