import { Readable } from 'node:stream';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { stringify } from 'csv-stringify';
import { DataSource } from 'typeorm';

import { CampaignReportRepository, REPORT_COLUMNS } from './campaign-report.repository';
import { CampaignsService } from './campaigns.service';
import { neutraliseCell } from './csv-cell';
import { ReviewDecisionsService } from './review-decisions.service';

export interface CampaignReport {
  contentType: string;
  fileName: string;
  body: Readable;
}

/**
 * The campaign report, the auditors' evidence: JSON or CSV, streamed in
 * keyset batches so 100,000 items never sit in memory at once.
 */
@Injectable()
export class CampaignReportService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: CampaignReportRepository,
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

  private async *json(campaignId: string, head: string): AsyncGenerator<string> {
    yield head;
    let first = true;
    for await (const batch of this.repository.jsonRows(campaignId)) {
      yield (first ? '' : ',') + batch.join(',');
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
    const batches = this.repository.csvRows(campaignId);
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
