import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { SqlParams } from '../common/db/sql-params';

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const spaced = (column: string) => `array_to_string(${column}, ' ')`;

/**
 * The report's columns, one row per review item with the owner's sign-off
 * beside it: the name, its SQL for the JSON report, and its SQL for a CSV
 * cell (lists space-separated). Postgres formats every value, so streaming
 * 100,000 rows costs Node little more than passing strings along.
 */
const COLUMNS: Array<[name: string, json: string, csv: string]> = [
  ['itemId', 'i.id', 'i.id::text'],
  ['credentialId', 'i.credential_id', 'i.credential_id::text'],
  ['clientId', 'i.client_id', 'i.client_id'],
  ['agentId', 'i.agent_id', 'i.agent_id::text'],
  ['agentName', 'i.agent_name', 'i.agent_name'],
  ['ownerId', 'i.owner_id', 'i.owner_id::text'],
  ['environment', 'i.environment', 'i.environment'],
  ['scopesBefore', 'i.scopes', spaced('i.scopes')],
  ['scopesAfter', 'i.scopes_after', spaced('i.scopes_after')],
  ['riskFlags', 'i.risk_flags', spaced('i.risk_flags')],
  ['rateLimitRequests', 'i.rate_limit_requests', 'i.rate_limit_requests::text'],
  ['rateLimitPerSeconds', 'i.rate_limit_per_seconds', 'i.rate_limit_per_seconds::text'],
  ['ipAllowlist', 'i.ip_allowlist', spaced('i.ip_allowlist')],
  ['lastUsedAt', iso('i.last_used_at'), iso('i.last_used_at')],
  ['lastRotatedAt', iso('i.last_rotated_at'), iso('i.last_rotated_at')],
  // Usage and the recommendation as the owner saw them (snapshotted at open; src/reviews/usage-recommendation.ts).
  ['calls30d', 'i.calls_30d', 'i.calls_30d::text'],
  ['calls90d', 'i.calls_90d', 'i.calls_90d::text'],
  ['denied90d', 'i.denied_90d', 'i.denied_90d::text'],
  ['scopesUsed90d', 'i.scopes_used_90d', spaced('i.scopes_used_90d')],
  ['recommendation', 'i.recommendation', 'i.recommendation'],
  ['recommendedScopes', 'i.recommended_scopes', spaced('i.recommended_scopes')],
  ['recommendationReason', 'i.recommendation_reason', 'i.recommendation_reason'],
  ['status', 'i.status', 'i.status'],
  ['decision', 'i.decision', 'i.decision'],
  ['outcome', 'i.outcome', 'i.outcome'],
  ['decidedBy', 'i.decided_by', 'i.decided_by'],
  ['decidedAt', iso('i.decided_at'), iso('i.decided_at')],
  ['comment', 'i.comment', 'i.comment'],
  ['resolvedAt', iso('i.resolved_at'), iso('i.resolved_at')],
  ['ownerSignedOffAt', iso('s.signed_at'), iso('s.signed_at')],
  ['ownerSignedBy', 's.signed_by', 's.signed_by'],
  ['ownerDecisionsSha256', 's.decisions_sha256', 's.decisions_sha256'],
];
export const REPORT_COLUMNS = COLUMNS.map(([name]) => name);

const JSON_SELECT = `json_build_object(${COLUMNS.map(([name, json]) => `'${name}', ${json}`).join(', ')})::text AS row`;
const CSV_SELECT = COLUMNS.map(([name, , csv]) => `${csv} AS "${name}"`).join(', ');

const BATCH = 5000;

/**
 * A campaign's report rows, one per review item with the owner's sign-off
 * beside it, read in keyset batches in item order so 100,000 items never sit
 * in memory at once.
 */
@Injectable()
export class CampaignReportRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Each row as a JSON object's text, batch by batch. */
  async *jsonRows(campaignId: string): AsyncGenerator<string[]> {
    for await (const batch of this.batches<{ row: string }>(campaignId, JSON_SELECT)) yield batch.map((r) => r.row);
  }

  /** Each row as CSV cells by column name, batch by batch. */
  csvRows(campaignId: string): AsyncGenerator<Array<Record<string, string | null>>> {
    return this.batches<Record<string, string | null>>(campaignId, CSV_SELECT);
  }

  /** The report's rows in item order, as `select` formats them, batch by batch. */
  private async *batches<R>(campaignId: string, select: string): AsyncGenerator<R[]> {
    let after: { createdAt: string; id: string } | null = null;
    for (;;) {
      const params = new SqlParams();
      const where = [`i.campaign_id = ${params.add(campaignId)}`];
      if (after) where.push(`(i.created_at, i.id) > (${params.add(after.createdAt)}::timestamptz, ${params.add(after.id)}::uuid)`);
      const batch: Array<R & { _at: string; _id: string }> = await this.dataSource.query(
        `SELECT ${select}, i.created_at::text AS _at, i.id AS _id
           FROM review_items i
           LEFT JOIN campaign_signoffs s ON s.campaign_id = i.campaign_id AND s.owner_id = i.owner_id
          WHERE ${where.join(' AND ')}
          ORDER BY i.created_at, i.id
          LIMIT ${params.add(BATCH)}`,
        params.values,
      );
      if (batch.length) yield batch;
      if (batch.length < BATCH) return;
      const last = batch[batch.length - 1];
      after = { createdAt: last._at, id: last._id };
    }
  }
}
