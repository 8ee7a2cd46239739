import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { stringify } from 'csv-stringify';
import { DataSource } from 'typeorm';
import { CampaignsService } from './campaigns.service';
import { neutraliseCell } from './csv-cell';
import { ReviewDecisionsService } from './review-decisions.service';

export interface CampaignReport {
  contentType: string;
  fileName: string;
  body: Readable;
}

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
 * The campaign report, the auditors' evidence: JSON or CSV, streamed in
 * keyset batches so 100,000 items never sit in memory at once.
 */
@Injectable()
export class CampaignReportService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly campaigns: CampaignsService,
    private readonly decisions: ReviewDecisionsService,
  ) {}

  /** Checks the campaign exists (a 404 before any byte is sent), then streams. */
  async report(campaignId: string, format: 'json' | 'csv'): Promise<CampaignReport> {
    const campaign = await this.campaigns.find(campaignId);
    const fileName = `campaign-${campaignId}.${format}`;
    if (format === 'csv') {
      return { contentType: 'text/csv; charset=utf-8', fileName, body: this.csv(campaignId) };
    }
    const progress = await this.campaigns.progressOf(this.dataSource.manager, campaign, null);
    const signoffs = await this.decisions.signoffs(campaignId);
    const head = `{"campaign":${JSON.stringify(progress)},"signoffs":${JSON.stringify(signoffs)},"items":[`;
    return { contentType: 'application/json; charset=utf-8', fileName, body: Readable.from(this.json(campaignId, head)) };
  }

  /** The report's rows in item order, as `select` formats them, batch by batch. */
  private async *batches<R>(campaignId: string, select: string): AsyncGenerator<R[]> {
    let after: { createdAt: string; id: string } | null = null;
    for (;;) {
      const params: unknown[] = [campaignId, BATCH];
      if (after) params.push(after.createdAt, after.id);
      const batch: Array<R & { _at: string; _id: string }> = await this.dataSource.query(
        `SELECT ${select}, i.created_at::text AS _at, i.id AS _id
           FROM review_items i
           LEFT JOIN campaign_signoffs s ON s.campaign_id = i.campaign_id AND s.owner_id = i.owner_id
          WHERE i.campaign_id = $1 ${after ? 'AND (i.created_at, i.id) > ($3::timestamptz, $4::uuid)' : ''}
          ORDER BY i.created_at, i.id
          LIMIT $2`,
        params,
      );
      if (batch.length) yield batch;
      if (batch.length < BATCH) return;
      const last = batch[batch.length - 1];
      after = { createdAt: last._at, id: last._id };
    }
  }

  private async *json(campaignId: string, head: string): AsyncGenerator<string> {
    yield head;
    let first = true;
    for await (const batch of this.batches<{ row: string }>(campaignId, JSON_SELECT)) {
      yield (first ? '' : ',') + batch.map((r) => r.row).join(',');
      first = false;
    }
    yield ']}';
  }

  /**
   * CSV through csv-stringify with a header row. Every cell goes through
   * neutraliseCell, so a name or comment such as `=HYPERLINK(...)` reaches a
   * spreadsheet as text, never as a formula.
   */
  private csv(campaignId: string): Readable {
    const batches = this.batches<Record<string, string | null>>(campaignId, CSV_SELECT);
    const records = Readable.from(
      (async function* () {
        for await (const batch of batches) {
          for (const row of batch) yield REPORT_COLUMNS.map((column) => neutraliseCell(row[column] ?? ''));
        }
      })(),
    );
    const stringifier = stringify({ header: true, columns: REPORT_COLUMNS });
    records.on('error', (error) => stringifier.destroy(error));
    return records.pipe(stringifier);
  }
}
