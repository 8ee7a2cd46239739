import { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { stringify } from 'csv-stringify';
import { DataSource } from 'typeorm';
import { CampaignsService } from './campaigns.service';
import { neutraliseCell } from './csv-cell';
import { CampaignEntity } from './entities/campaign.entity';
import { ReviewDecisionsService } from './review-decisions.service';
import { CampaignProgress, SignoffView } from './review-views';

/** One report row per review item, with the owner's sign-off beside it. */
export interface ReportRow {
  itemId: string;
  credentialId: string;
  clientId: string;
  agentId: string;
  agentName: string;
  ownerId: string;
  environment: string;
  scopesBefore: string[];
  scopesAfter: string[] | null;
  riskFlags: string[];
  rateLimitRequests: number;
  rateLimitPerSeconds: number;
  ipAllowlist: string[];
  lastUsedAt: string | null;
  lastRotatedAt: string | null;
  status: string;
  decision: string | null;
  outcome: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  comment: string | null;
  resolvedAt: string | null;
  ownerSignedOffAt: string | null;
  ownerSignedBy: string | null;
  ownerDecisionsSha256: string | null;
}

export interface CampaignReport {
  contentType: string;
  fileName: string;
  body: Readable;
}

/** CSV columns, in order; list cells are space-separated. */
const CSV_COLUMNS: Array<keyof ReportRow> = [
  'itemId',
  'credentialId',
  'clientId',
  'agentId',
  'agentName',
  'ownerId',
  'environment',
  'scopesBefore',
  'scopesAfter',
  'riskFlags',
  'rateLimitRequests',
  'rateLimitPerSeconds',
  'ipAllowlist',
  'lastUsedAt',
  'lastRotatedAt',
  'status',
  'decision',
  'outcome',
  'decidedBy',
  'decidedAt',
  'comment',
  'resolvedAt',
  'ownerSignedOffAt',
  'ownerSignedBy',
  'ownerDecisionsSha256',
];

const BATCH = 5000;

interface ItemRow {
  id: string;
  created_at: Date;
  credential_id: string;
  client_id: string;
  agent_id: string;
  agent_name: string;
  owner_id: string;
  environment: string;
  scopes: string[];
  scopes_after: string[] | null;
  risk_flags: string[];
  rate_limit_requests: number;
  rate_limit_per_seconds: number;
  ip_allowlist: string[];
  last_used_at: Date | null;
  last_rotated_at: Date | null;
  status: string;
  decision: string | null;
  outcome: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  comment: string | null;
  resolved_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * The campaign report, the auditors' evidence: JSON or CSV, streamed in
 * batches so 100,000 items never sit in memory at once.
 */
@Injectable()
export class CampaignReportService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly campaigns: CampaignsService,
    private readonly decisions: ReviewDecisionsService,
  ) {}

  /** Checks the campaign exists (404 before any byte is sent), then streams. */
  async report(campaignId: string, format: 'json' | 'csv'): Promise<CampaignReport> {
    const campaign = await this.campaigns.find(campaignId);
    const progress = await this.campaigns.progressOf(this.dataSource.manager, campaign, null);
    const signoffs = await this.decisions.signoffs(campaignId);
    const fileName = `campaign-${campaignId}.${format}`;
    if (format === 'csv') {
      return { contentType: 'text/csv; charset=utf-8', fileName, body: this.csv(campaign, signoffs) };
    }
    return { contentType: 'application/json; charset=utf-8', fileName, body: Readable.from(this.json(campaign, progress, signoffs)) };
  }

  /** Every row of the report, in item order (tests compare them with the items). */
  async *rows(campaign: CampaignEntity, signoffs: SignoffView[]): AsyncGenerator<ReportRow> {
    const signed = new Map(signoffs.map((s) => [s.ownerId, s]));
    let after: { createdAt: Date; id: string } | null = null;
    for (;;) {
      const params: unknown[] = [campaign.id, BATCH];
      let position = '';
      if (after) {
        params.push(after.createdAt, after.id);
        position = 'AND (i.created_at, i.id) > ($3, $4)';
      }
      const batch: ItemRow[] = await this.dataSource.query(
        `SELECT i.id, i.created_at, i.credential_id, i.client_id, i.agent_id, i.agent_name, i.owner_id, i.environment,
                i.scopes, i.scopes_after, i.risk_flags, i.rate_limit_requests, i.rate_limit_per_seconds, i.ip_allowlist,
                i.last_used_at, i.last_rotated_at, i.status, i.decision, i.outcome, i.decided_by, i.decided_at,
                i.comment, i.resolved_at
           FROM review_items i
          WHERE i.campaign_id = $1 ${position}
          ORDER BY i.created_at, i.id
          LIMIT $2`,
        params,
      );
      for (const row of batch) {
        const signoff = signed.get(row.owner_id);
        yield {
          itemId: row.id,
          credentialId: row.credential_id,
          clientId: row.client_id,
          agentId: row.agent_id,
          agentName: row.agent_name,
          ownerId: row.owner_id,
          environment: row.environment,
          scopesBefore: row.scopes,
          scopesAfter: row.scopes_after,
          riskFlags: row.risk_flags,
          rateLimitRequests: row.rate_limit_requests,
          rateLimitPerSeconds: row.rate_limit_per_seconds,
          ipAllowlist: row.ip_allowlist,
          lastUsedAt: iso(row.last_used_at),
          lastRotatedAt: iso(row.last_rotated_at),
          status: row.status,
          decision: row.decision,
          outcome: row.outcome,
          decidedBy: row.decided_by,
          decidedAt: iso(row.decided_at),
          comment: row.comment,
          resolvedAt: iso(row.resolved_at),
          ownerSignedOffAt: signoff?.signedAt ?? null,
          ownerSignedBy: signoff?.signedBy ?? null,
          ownerDecisionsSha256: signoff?.decisionsSha256 ?? null,
        };
      }
      if (batch.length < BATCH) return;
      const last = batch[batch.length - 1];
      after = { createdAt: last.created_at, id: last.id };
    }
  }

  private async *json(campaign: CampaignEntity, progress: CampaignProgress, signoffs: SignoffView[]): AsyncGenerator<string> {
    yield `{"campaign":${JSON.stringify(progress)},"signoffs":${JSON.stringify(signoffs)},"items":[`;
    let first = true;
    let chunk: string[] = [];
    for await (const row of this.rows(campaign, signoffs)) {
      chunk.push(JSON.stringify(row));
      if (chunk.length === 500) {
        yield (first ? '' : ',') + chunk.join(',');
        first = false;
        chunk = [];
      }
    }
    if (chunk.length) yield (first ? '' : ',') + chunk.join(',');
    yield ']}';
  }

  /**
   * CSV through csv-stringify with a header row. Every text cell goes through
   * neutraliseCell, so a name or comment such as `=HYPERLINK(...)` reaches a
   * spreadsheet as text, never as a formula.
   */
  private csv(campaign: CampaignEntity, signoffs: SignoffView[]): Readable {
    const rows = this.rows(campaign, signoffs);
    const cells = async function* (): AsyncGenerator<string[]> {
      for await (const row of rows) {
        yield CSV_COLUMNS.map((column) => {
          const value = row[column];
          if (value === null) return '';
          if (Array.isArray(value)) return neutraliseCell(value.join(' '));
          return neutraliseCell(String(value));
        });
      }
    };
    const stringifier = stringify({ header: true, columns: CSV_COLUMNS as string[] });
    const source = Readable.from(cells());
    source.on('error', (error) => stringifier.destroy(error));
    return source.pipe(stringifier);
  }
}
