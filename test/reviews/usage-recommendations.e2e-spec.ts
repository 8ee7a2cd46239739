import { parse } from 'csv-parse/sync';

import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { DAY, ReviewHelpers } from './review-helpers';

/**
 * Review items with usage: what a campaign snapshots of each credential's
 * calls when it opens (allowed calls in 30 and 90 days, refused calls, the
 * granted scopes used), the recommendation and the usage risk flags, all from
 * usage written through the real paths (POST /v1/verify and POST /v1/usage
 * with a gateway token, then the recorder flushed), with time driven by the
 * injected clock; the snapshot does not move once open; the report carries it.
 */
describe('review items with usage and recommendations', () => {
  let t: TestApp;
  let f: Fixtures;
  let h: ReviewHelpers;
  let p: string;
  let ownerA: any;
  let ownerB: any;
  let gatewayToken: string;
  const cred: Record<string, { credential: any; secret: string }> = {};
  let campaign: any;
  let items: any[];
  const flush = () => t.app.get(UsageRecorderService).flush();
  const item = (name: string) => items.find((i) => i.credentialId === cred[name].credential.id);

  /** One verification through the gateway's token; answers the verify code. */
  const verify = async (name: string, scope?: string, ip = '203.0.113.10'): Promise<string> => {
    const r = await t.http.post('/v1/verify', { key: cred[name].secret, ...(scope ? { scope } : {}), ip }, gatewayToken);
    expect(r.status).toBe(200);
    return r.body.code;
  };

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    h = new ReviewHelpers(t, f);
    ownerA = await f.owner();
    ownerB = await f.owner();
    p = (await f.product()).name;
    const agentA = await f.agent(ownerA.id);
    const agentB = await f.agent(ownerB.id);
    const gateway = await f.gateway(['production', 'sandbox']);
    gatewayToken = (await f.token('gateway', undefined, gateway.id)).token;
    const issue = async (name: string, agentId = agentA.id, scopes = [`${p}:read`, `${p}:write`]) => {
      const made = await f.credential(agentId, scopes);
      cred[name] = { credential: made.credential, secret: made.secret! };
    };
    // Day 0: everything but `young` is issued.
    for (const name of ['unused', 'allScopes', 'readOnly', 'lapsed', 'onlyRefused', 'noScope', 'beforeWindow']) await issue(name);
    await issue('ownerB', agentB.id);

    // Day 5: `beforeWindow` is used once, 95 days before the campaign opens.
    t.clock.advance(5 * DAY);
    expect(await verify('beforeWindow', `${p}:read`)).toBe('VALID');
    await flush();
    // Day 40: `lapsed` is used (60 days before the open), never again.
    t.clock.advance(35 * DAY);
    expect(await verify('lapsed', `${p}:read`)).toBe('VALID');
    await flush();
    // Day 95: `young` is issued, 5 days before the open, and never used.
    t.clock.advance(55 * DAY);
    await issue('young');
    // Day 100: the calls of the last day, then the campaign opens.
    t.clock.advance(5 * DAY);
    expect(await verify('allScopes', `${p}:read`)).toBe('VALID');
    expect(await verify('allScopes', `${p}:write`)).toBe('VALID');
    for (let i = 0; i < 3; i++) expect(await verify('readOnly', `${p}:read`)).toBe('VALID');
    // Refused calls never mark a scope used: one on a scope it lacks, one reported refused (rate limited) on a scope it has.
    expect(await verify('readOnly', `${p}:delete`)).toBe('SCOPE_DENIED');
    const reported = await t.http.post(
      '/v1/usage',
      {
        events: [
          {
            credentialId: cred.readOnly.credential.id,
            at: t.clock.now().toISOString(),
            method: 'POST',
            path: '/orders',
            scope: `${p}:write`,
            statusCode: 429,
            ip: '203.0.113.11',
            requestId: 'req-rl',
            outcome: 'denied',
            denyCode: 'RATE_LIMITED',
          },
          {
            clientId: cred.allScopes.credential.clientId,
            at: t.clock.now().toISOString(),
            method: 'GET',
            path: '/orders',
            scope: `${p}:read`,
            statusCode: 200,
            ip: '203.0.113.12',
            requestId: 'req-ok',
            outcome: 'allowed',
          },
        ],
      },
      gatewayToken,
    );
    expect(reported.body).toEqual({ accepted: 2, rejected: [] });
    // `onlyRefused` presents its key, but only for scopes it lacks.
    expect(await verify('onlyRefused', `${p}:delete`)).toBe('SCOPE_DENIED');
    expect(await verify('onlyRefused', `${p}:admin`)).toBe('SCOPE_DENIED');
    // `noScope` is used by calls that name no scope.
    expect(await verify('noScope')).toBe('VALID');
    await flush();

    campaign = await h.open({ name: 'usage review', ownerIds: [ownerA.id, ownerB.id] });
    items = await h.items(campaign.id);
  });
  afterAll(() => t.close());

  it('snapshots allowed calls (30 and 90 days), refused calls and the granted scopes used', () => {
    const lastUse = (name: string) => item(name).snapshot.lastUsedAt;
    expect(item('unused').usage).toEqual({ calls30d: 0, calls90d: 0, denied90d: 0, lastUsedAt: null, scopesUsed90d: [] });
    expect(item('allScopes').usage).toEqual({
      calls30d: 3,
      calls90d: 3,
      denied90d: 0,
      lastUsedAt: lastUse('allScopes'),
      scopesUsed90d: [`${p}:read`, `${p}:write`],
    });
    expect(item('readOnly').usage).toEqual({
      calls30d: 3,
      calls90d: 3,
      denied90d: 2,
      lastUsedAt: lastUse('readOnly'),
      scopesUsed90d: [`${p}:read`],
    });
    expect(item('lapsed').usage).toMatchObject({ calls30d: 0, calls90d: 1, denied90d: 0, scopesUsed90d: [`${p}:read`] });
    expect(item('onlyRefused').usage).toMatchObject({ calls30d: 0, calls90d: 0, denied90d: 2, scopesUsed90d: [] });
    expect(item('noScope').usage).toMatchObject({ calls30d: 1, calls90d: 1, scopesUsed90d: [] });
    expect(item('beforeWindow').usage).toMatchObject({ calls30d: 0, calls90d: 0, denied90d: 0, scopesUsed90d: [] });
    // lastUsedAt is the credential's own (a refused call with a valid key still sets it).
    expect(item('onlyRefused').usage.lastUsedAt).toBe(t.clock.now().toISOString());
    expect(item('beforeWindow').usage.lastUsedAt).toBe(new Date(new Date(campaign.openedAt).getTime() - 95 * DAY).toISOString());
  });

  it('recommends revoke for no allowed call in 90 days, reduce to the used scopes, keep otherwise', () => {
    const rec = (name: string) => item(name).recommendation;
    expect(rec('unused')).toEqual({ decision: 'revoke', reason: 'No call was allowed in the 90 days before the campaign opened.' });
    expect(rec('onlyRefused')).toEqual({
      decision: 'revoke',
      reason: 'No call was allowed in the 90 days before the campaign opened (2 refused).',
    });
    expect(rec('beforeWindow').decision).toBe('revoke');
    expect(rec('ownerB').decision).toBe('revoke');
    expect(rec('readOnly')).toEqual({
      decision: 'reduce',
      scopes: [`${p}:read`],
      reason: `Used in the last 90 days, but never with ${p}:write.`,
    });
    expect(rec('lapsed')).toMatchObject({ decision: 'reduce', scopes: [`${p}:read`] });
    expect(rec('allScopes')).toEqual({ decision: 'keep', reason: 'Every granted scope was used in the last 90 days.' });
    expect(rec('noScope')).toEqual({
      decision: 'keep',
      reason: 'Used in the last 90 days, but its calls named no scope, so which scopes it needs is unknown.',
    });
    expect(rec('young')).toMatchObject({ decision: 'keep' });
    expect(rec('young').reason).toContain('too new to judge');
  });

  it('raises never_used, unused_30d and unused_scopes from the usage', () => {
    const usageFlags = (name: string) => item(name).riskFlags.filter((flag: string) => /unused|never/.test(flag));
    expect(usageFlags('unused')).toEqual(['never_used', 'unused_30d']);
    expect(usageFlags('allScopes')).toEqual([]);
    expect(usageFlags('readOnly')).toEqual(['unused_scopes']);
    expect(usageFlags('lapsed')).toEqual(['unused_30d', 'unused_scopes']);
    // Its key was presented (refused): used, but not in 30 days.
    expect(usageFlags('onlyRefused')).toEqual(['unused_30d']);
    expect(usageFlags('noScope')).toEqual([]);
    expect(usageFlags('beforeWindow')).toEqual(['unused_30d']);
    // Issued 5 days before: never used, but not 30 days old.
    expect(usageFlags('young')).toEqual(['never_used']);
  });

  it('keeps what the owner saw: later calls do not change an open campaign’s items', async () => {
    t.clock.advance(1000);
    expect(await verify('unused', `${p}:read`)).toBe('VALID');
    expect(await verify('readOnly', `${p}:write`)).toBe('VALID');
    await flush();
    const again = await h.items(campaign.id);
    for (const name of ['unused', 'readOnly']) {
      const now = again.find((i) => i.credentialId === cred[name].credential.id);
      expect({ usage: now.usage, recommendation: now.recommendation, riskFlags: now.riskFlags }).toEqual({
        usage: item(name).usage,
        recommendation: item(name).recommendation,
        riskFlags: item(name).riskFlags,
      });
    }
    // A campaign opened now sees those calls.
    const later = await h.open({ name: 'later', ownerIds: [ownerA.id] });
    const fresh = await h.itemOf(later.id, cred.readOnly.credential.id);
    expect(fresh.usage.scopesUsed90d).toEqual([`${p}:read`, `${p}:write`]);
    expect(fresh.recommendation.decision).toBe('keep');
    expect((await h.itemOf(later.id, cred.unused.credential.id)).recommendation).toMatchObject({
      decision: 'reduce',
      scopes: [`${p}:read`],
    });
  });

  it('gives an owner its own items with usage, and only those', async () => {
    const tokenB = (await f.token('owner', ownerB.id)).token;
    const mine = await h.items(campaign.id, tokenB);
    expect(mine.map((i) => i.credentialId)).toEqual([cred.ownerB.credential.id]);
    expect(mine[0].usage).toMatchObject({ calls90d: 0 });
  });

  it('puts the usage and the recommendation in the JSON and CSV report', async () => {
    const json = await t.http.get(`/v1/campaigns/${campaign.id}/report`, f.admin);
    expect(json.status).toBe(200);
    const row = json.body.items.find((r: any) => r.credentialId === cred.readOnly.credential.id);
    expect(row).toMatchObject({
      calls30d: 3,
      calls90d: 3,
      denied90d: 2,
      scopesUsed90d: [`${p}:read`],
      recommendation: 'reduce',
      recommendedScopes: [`${p}:read`],
      recommendationReason: `Used in the last 90 days, but never with ${p}:write.`,
    });
    const csv = await t.http.get(`/v1/campaigns/${campaign.id}/report?format=csv`, f.admin);
    expect(csv.status).toBe(200);
    const rows: Array<Record<string, string>> = parse(csv.text, { columns: true });
    expect(rows).toHaveLength(items.length);
    const csvRow = rows.find((r) => r.credentialId === cred.readOnly.credential.id)!;
    expect(csvRow).toMatchObject({
      calls30d: '3',
      calls90d: '3',
      denied90d: '2',
      scopesUsed90d: `${p}:read`,
      recommendation: 'reduce',
      recommendedScopes: `${p}:read`,
      recommendationReason: `Used in the last 90 days, but never with ${p}:write.`,
    });
    const allScopes = rows.find((r) => r.credentialId === cred.allScopes.credential.id)!;
    expect(allScopes).toMatchObject({ scopesUsed90d: `${p}:read ${p}:write`, recommendation: 'keep', recommendedScopes: '' });
  });
});
