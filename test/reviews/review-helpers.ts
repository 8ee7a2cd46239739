import { CampaignSweepService as CampaignSweep, SweepResult } from '../../src/reviews/campaign-sweep.service';
import { Fixtures } from '../support/fixtures';
import type { TestApp } from '../support/test-app';

export const DAY = 24 * 3600 * 1000;

/** Review-specific steps on top of the inventory fixtures, all through HTTP except `sql` and `sweep`. */
export class ReviewHelpers {
  constructor(
    private readonly t: TestApp,
    readonly f: Fixtures = new Fixtures(t),
  ) {}

  async open(body: Record<string, unknown>, token = this.t.adminToken): Promise<any> {
    const r = await this.t.http.post('/v1/campaigns', body, token);
    if (r.status !== 201) throw new Error(`open campaign: ${r.status} ${r.text}`);
    return r.body;
  }

  /** Every item of a campaign, following cursors. */
  async items(campaignId: string, token = this.t.adminToken, query = ''): Promise<any[]> {
    const all: any[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; text: string; body: any } = await this.t.http.get(
        `/v1/campaigns/${campaignId}/items?limit=500${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        token,
      );
      if (r.status !== 200) throw new Error(`items: ${r.status} ${r.text}`);
      all.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    return all;
  }

  async itemOf(campaignId: string, credentialId: string): Promise<any> {
    const item = (await this.items(campaignId)).find((i) => i.credentialId === credentialId);
    if (!item) throw new Error(`no item for credential ${credentialId} in campaign ${campaignId}`);
    return item;
  }

  decide(campaignId: string, itemId: string, body: Record<string, unknown>, token = this.t.adminToken) {
    return this.t.http.post(`/v1/campaigns/${campaignId}/items/${itemId}/decision`, body, token);
  }

  async credential(id: string): Promise<any> {
    const r = await this.t.http.get(`/v1/credentials/${id}`, this.t.adminToken);
    if (r.status !== 200) throw new Error(`credential: ${r.status} ${r.text}`);
    return r.body;
  }

  /** An active credential with delete/admin scopes: requested, then approved by a second admin. */
  async privilegedCredential(agentId: string, scopes: string[], overrides: Record<string, unknown> = {}): Promise<any> {
    const requested = await this.f.credential(agentId, scopes, overrides);
    if (requested.status !== 202) throw new Error('expected a pending credential');
    const approver = await this.f.token('admin');
    const approved = await this.t.http.post(`/v1/credentials/${requested.credential.id}/approve`, undefined, approver.token);
    if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${approved.text}`);
    return approved.body;
  }

  async revoke(credentialId: string, reason = 'leaked in a test'): Promise<void> {
    const r = await this.t.http.post(`/v1/credentials/${credentialId}/revoke`, { reason }, this.t.adminToken);
    if (r.status !== 202) throw new Error(`revoke: ${r.status} ${r.text}`);
  }

  /** Inventory fields the API does not set (last use, due rotation, an issue date in the past), written directly. */
  async setCredentialColumns(
    id: string,
    columns: { lastUsedAt?: Date | null; nextRotationAt?: Date | null; createdAt?: Date },
  ): Promise<void> {
    if (columns.createdAt !== undefined)
      await this.t.dataSource.query('UPDATE credentials SET created_at = $2 WHERE id = $1', [id, columns.createdAt]);
    if (columns.lastUsedAt !== undefined)
      await this.t.dataSource.query('UPDATE credentials SET last_used_at = $2 WHERE id = $1', [id, columns.lastUsedAt]);
    if (columns.nextRotationAt !== undefined) {
      await this.t.dataSource.query('UPDATE credentials SET next_rotation_at = $2 WHERE id = $1', [id, columns.nextRotationAt]);
    }
  }

  sweep(app: TestApp = this.t): Promise<SweepResult> {
    return app.app.get(CampaignSweep).sweep();
  }

  async auditActions(targetId: string): Promise<string[]> {
    const r = await this.t.http.get(`/v1/audit-events?targetId=${targetId}&limit=500`, this.t.adminToken);
    return r.body.items.map((e: any) => e.action);
  }
}
