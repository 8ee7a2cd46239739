import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { databaseText, expectProblem, settledTableCounts, tableCounts } from '../support/problem';
import { startTestApp, TestApp } from '../support/test-app';

/**
 * A responder pastes the leaked key into a revocation's reason; people paste
 * tokens into names, comments and statements. The action is carried out with
 * the value replaced by a marker (prefix, ellipsis, last four characters),
 * its audit event says which fields were redacted, and a revocation says
 * whether the key was the credential's own. Outside free text a secret-shaped
 * value is a 400 naming the field. No pasted secret is found afterwards in
 * any text or jsonb column, the logs, the audit log or a webhook body.
 */
describe('secrets pasted into requests', () => {
  let t: TestApp;
  let f: Fixtures;
  let receiver: GatewayReceiver;
  let product: any;
  let owner: any;
  let agent: any;
  /** Every real secret or token pasted into a request. */
  const pasted: string[] = [];

  const marker = (secret: string) => `${/^(agk_(live|test)_|agt_|whsec_)/.exec(secret)![0]}…${secret.slice(-4)}`;

  async function issue(agentId = agent.id, overrides: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
    const issued = await f.credential(agentId, [`${product.name}:read`], overrides);
    pasted.push(issued.secret!);
    return { id: issued.credential.id, secret: issued.secret! };
  }

  async function credential(id: string): Promise<any> {
    return (await t.http.get(`/v1/credentials/${id}`, t.adminToken)).body;
  }

  async function auditOf(targetId: string, action: string): Promise<any[]> {
    const r = await t.http.get(`/v1/audit-events?targetId=${targetId}&action=${action}`, t.adminToken);
    expect(r.status).toBe(200);
    return r.body.items;
  }

  function revoke(path: string, reason: string, token = t.adminToken) {
    return t.http.post(path, { reason }, token);
  }

  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'debug' } });
    f = new Fixtures(t);
    receiver = await GatewayReceiver.start();
    const gw = await t.http.post(
      '/v1/gateways',
      { name: 'gw-leaks', url: receiver.url, environments: ['production', 'sandbox'] },
      t.adminToken,
    );
    expect(gw.status).toBe(201);
    pasted.push(gw.body.signingSecret);
    ({ owner, product, agent } = await f.world());
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  it('revokes a credential whose reason holds its own key: 202, revoked, reasonContainedSecret true, the key redacted everywhere', async () => {
    const { id, secret } = await issue();
    const reason = `key leaked in a public gist: ${secret} (found by the scanner)`;
    const res = await revoke(`/v1/credentials/${id}/revoke`, reason, (await f.token('responder')).token);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      revocationId: expect.any(String),
      credentialIds: [id],
      revokedAt: expect.any(String),
      reasonContainedSecret: true,
    });

    const stored = `key leaked in a public gist: ${marker(secret)} (found by the scanner)`;
    expect(await credential(id)).toMatchObject({ status: 'revoked', revokedReason: stored });
    expect((await t.http.get(`/v1/revocations/${res.body.revocationId}`, t.adminToken)).body.reason).toBe(stored);
    const [event] = await auditOf(id, 'credential.revoked');
    expect(event.data).toMatchObject({ reason: stored, redactedFields: ['reason'], reasonContainedSecret: true });

    await receiver.waitFor((r) => r.events('credential.revoked', id).length === 1);
    expect(receiver.events('credential.revoked', id)[0].json.data.reason).toBe(stored);

    // Repeating it answers the same revocation, and still recognises the key.
    const again = await revoke(`/v1/credentials/${id}/revoke`, reason);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ revocationId: res.body.revocationId, reasonContainedSecret: true });
  });

  it("says reasonContainedSecret false when the key is another credential's, and leaves that one alone", async () => {
    const revoked = await issue();
    const other = await issue();
    const res = await revoke(`/v1/credentials/${revoked.id}/revoke`, `wrong key pasted: ${other.secret}`);
    expect(res.status).toBe(202);
    expect(res.body.reasonContainedSecret).toBe(false);
    expect(await credential(revoked.id)).toMatchObject({ status: 'revoked', revokedReason: `wrong key pasted: ${marker(other.secret)}` });
    expect((await credential(other.id)).status).toBe('active');
    const [event] = await auditOf(revoked.id, 'credential.revoked');
    expect(event.data).toMatchObject({ redactedFields: ['reason'], reasonContainedSecret: false });

    // A reason with nothing secret-shaped: false, and the events carry no redaction.
    const plain = await issue();
    const r = await revoke(`/v1/credentials/${plain.id}/revoke`, 'agt_ and agk_live_ prefixes are mentioned, no key');
    expect(r.status).toBe(202);
    expect(r.body.reasonContainedSecret).toBe(false);
    expect((await credential(plain.id)).revokedReason).toBe('agt_ and agk_live_ prefixes are mentioned, no key');
    const [plainEvent] = await auditOf(plain.id, 'credential.revoked');
    expect(plainEvent.data.redactedFields).toBeUndefined();
    expect(plainEvent.data.reasonContainedSecret).toBeUndefined();
  });

  it('recognises a previous version still in its grace period as the credential’s own', async () => {
    const { id, secret: first } = await issue(agent.id, { environment: 'sandbox' });
    expect((await t.http.post(`/v1/credentials/${id}/rotate`, { reason: 'scheduled hygiene' }, t.adminToken)).status).toBe(202);
    await eventually(async () => (await credential(id)).secretVersion === 2, 20_000, 'rotation to version 2');
    const claimed = await t.http.post(`/v1/credentials/${id}/claim`, undefined, t.adminToken);
    expect(claimed.status).toBe(200);
    pasted.push(claimed.body.secret);

    const res = await revoke(`/v1/credentials/${id}/revoke`, `old key still in grace leaked: ${first}`);
    expect(res.status).toBe(202);
    expect(res.body.reasonContainedSecret).toBe(true);
    expect((await credential(id)).revokedReason).toBe(`old key still in grace leaked: ${marker(first)}`);
  });

  it("revokes an agent whose reason holds one of its credentials' keys", async () => {
    const a = await f.agent(owner.id);
    const one = await issue(a.id);
    const two = await issue(a.id, { environment: 'sandbox' });
    const ownerToken = await f.token('owner', owner.id);
    const reason = `leaked: ${two.secret}`;
    const res = await revoke(`/v1/agents/${a.id}/revoke`, reason, ownerToken.token);
    expect(res.status).toBe(202);
    expect(res.body.reasonContainedSecret).toBe(true);
    expect([...res.body.credentialIds].sort()).toEqual([one.id, two.id].sort());
    for (const id of [one.id, two.id])
      expect(await credential(id)).toMatchObject({ status: 'revoked', revokedReason: `leaked: ${marker(two.secret)}` });
    expect((await auditOf(two.id, 'credential.revoked'))[0].data).toMatchObject({
      reasonContainedSecret: true,
      redactedFields: ['reason'],
    });
    expect((await auditOf(one.id, 'credential.revoked'))[0].data).toMatchObject({
      reasonContainedSecret: false,
      redactedFields: ['reason'],
    });
    expect((await auditOf(a.id, 'agent.decommissioned'))[0].data).toMatchObject({
      reason: `leaked: ${marker(two.secret)}`,
      redactedFields: ['reason'],
    });

    const again = await revoke(`/v1/agents/${a.id}/revoke`, reason, ownerToken.token);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ revocationId: res.body.revocationId, reasonContainedSecret: true });
  });

  it('redacts tokens and signing secrets in a reason too (not a credential’s own: false)', async () => {
    const token = await f.token('auditor');
    pasted.push(token.token);
    const { id } = await issue();
    const signing = pasted[0];
    const res = await revoke(`/v1/credentials/${id}/revoke`, `token ${token.token} and ${signing} were in the same paste`);
    expect(res.status).toBe(202);
    expect(res.body.reasonContainedSecret).toBe(false);
    expect((await credential(id)).revokedReason).toBe(`token ${marker(token.token)} and ${marker(signing)} were in the same paste`);
  });

  it('redacts secret-shaped values in every other free-text field, and audits which fields', async () => {
    const { secret } = await issue();
    const token = (await f.token('admin')).token;
    pasted.push(token);
    const m = marker(secret);
    const expectRedacted = async (res: { status: number; text: string; body: any }, status: number, action: string, fields: string[]) => {
      if (res.status !== status) throw new Error(`${action}: ${res.status} ${res.text}`);
      expect(res.text).not.toContain(secret);
      const targetId = res.body.id ?? res.body.gateway?.id ?? res.body.credentialId ?? res.body.campaignId;
      const events = await auditOf(targetId, action);
      expect(events.at(0)?.data?.redactedFields).toEqual(fields);
    };

    const o = await t.http.post('/v1/owners', { name: `team ${secret}`, email: `${secret}@example.com`, kind: 'team' }, t.adminToken);
    await expectRedacted(o, 201, 'owner.created', ['name', 'email']);
    expect(o.body).toMatchObject({ name: `team ${m}`, email: `${m}@example.com` });
    const patched = await t.http.patch(`/v1/owners/${o.body.id}`, { name: `renamed ${token}` }, t.adminToken);
    await expectRedacted(patched, 200, 'owner.updated', ['name']);
    expect(patched.body.name).toBe(`renamed ${marker(token)}`);

    const a = await t.http.post('/v1/agents', { name: `agent ${secret}`, ownerId: o.body.id, description: `uses ${token}` }, t.adminToken);
    await expectRedacted(a, 201, 'agent.created', ['name', 'description']);
    expect(a.body).toMatchObject({ name: `agent ${m}`, description: `uses ${marker(token)}` });
    const pa = await t.http.patch(`/v1/agents/${a.body.id}`, { description: `now ${secret}` }, t.adminToken);
    await expectRedacted(pa, 200, 'agent.updated', ['description']);
    expect(pa.body.description).toBe(`now ${m}`);

    const tk = await t.http.post('/v1/tokens', { name: `ci ${secret}`, role: 'responder' }, t.adminToken);
    await expectRedacted(tk, 201, 'token.created', ['name']);
    pasted.push(tk.body.token);
    expect(tk.body.name).toBe(`ci ${m}`);

    const gr = await GatewayReceiver.start();
    try {
      const gw = await t.http.post('/v1/gateways', { name: `gw ${secret}`, url: gr.url, environments: ['sandbox'] }, t.adminToken);
      await expectRedacted(gw, 201, 'gateway.created', ['name']);
      pasted.push(gw.body.signingSecret);
      expect(gw.body.gateway.name).toBe(`gw ${m}`);
    } finally {
      await gr.close();
    }

    const schedule = await t.http.post('/v1/campaign-schedules', { name: `sched ${secret}` }, t.adminToken);
    await expectRedacted(schedule, 201, 'campaign_schedule.created', ['name']);
    expect(schedule.body.name).toBe(`sched ${m}`);

    // A campaign over one owner's one credential: its decision comment, then the owner's sign-off statement.
    const reviewed = await f.owner();
    const reviewedAgent = await f.agent(reviewed.id);
    const reviewedCredential = await issue(reviewedAgent.id);
    const campaign = await t.http.post('/v1/campaigns', { name: `review ${secret}`, ownerIds: [reviewed.id] }, t.adminToken);
    await expectRedacted(campaign, 201, 'campaign.opened', ['name']);
    expect(campaign.body.name).toBe(`review ${m}`);
    const items = (await t.http.get(`/v1/campaigns/${campaign.body.id}/items`, t.adminToken)).body.items;
    expect(items.map((i: any) => i.credentialId)).toEqual([reviewedCredential.id]);
    const reviewer = await f.token('owner', reviewed.id);
    const decided = await t.http.post(
      `/v1/campaigns/${campaign.body.id}/items/${items[0].id}/decision`,
      { decision: 'keep', comment: `still needed; key is ${reviewedCredential.secret}` },
      reviewer.token,
    );
    expect(decided.status).toBe(200);
    expect(decided.body.comment).toBe(`still needed; key is ${marker(reviewedCredential.secret)}`);
    expect((await auditOf(items[0].id, 'review.decided'))[0].data.redactedFields).toEqual(['comment']);
    const signed = await t.http.post(`/v1/campaigns/${campaign.body.id}/signoff`, { statement: `I attest. ${token}` }, reviewer.token);
    expect(signed.status).toBe(201);
    expect(signed.body.statement).toBe(`I attest. ${marker(token)}`);

    const rotated = await issue();
    const rotation = await t.http.post(
      `/v1/credentials/${rotated.id}/rotate`,
      { reason: `pasted ${rotated.secret}`, immediate: true },
      t.adminToken,
    );
    expect(rotation.status).toBe(202);
    const [requested] = await auditOf(rotated.id, 'rotation.requested');
    expect(requested.data).toMatchObject({ reason: `pasted ${marker(rotated.secret)}`, redactedFields: ['reason'] });
  });

  it('refuses a secret-shaped value outside free text with a 400 naming the field, and stores nothing', async () => {
    const { id, secret } = await issue();
    const before = await settledTableCounts(t.dataSource);
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/v1/gateways', { name: 'gw-x', url: `https://gw.example.com/hook?token=${secret}`, environments: ['production'] }, 'url'],
      [
        'POST',
        '/v1/credentials',
        {
          agentId: agent.id,
          type: 'api_key',
          environment: 'production',
          scopes: [`${product.name}:read`, `${secret}:read`],
          rateLimit: { requests: 1, perSeconds: 1 },
        },
        'scopes[1]',
      ],
      ['PATCH', `/v1/credentials/${id}`, { ipAllowlist: [secret] }, 'ipAllowlist[0]'],
      ['POST', '/v1/products', { name: secret, operations: ['read'] }, 'name'],
      ['POST', '/v1/tokens', { name: 'x', role: secret }, 'role'],
      ['POST', '/v1/campaigns', { name: 'c', ownerIds: [secret] }, 'ownerIds'],
      ['GET', `/v1/audit-events?targetId=${secret}`, undefined, 'targetId'],
      ['GET', `/v1/audit-events?actor=${secret}`, undefined, 'actor'],
      ['GET', `/v1/owners?cursor=${secret}`, undefined, 'cursor'],
      ['GET', `/v1/credentials?agentId=${secret}`, undefined, 'agentId'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await t.http.request(method, path, body, { token: t.adminToken });
      try {
        expectProblem(r, 400, [field]);
        expect(r.text).not.toContain(secret);
      } catch (error) {
        throw new Error(`${method} ${path}: ${(error as Error).message}`);
      }
    }
    expect(await tableCounts(t.dataSource)).toEqual(before);
  });

  it('does not keep a request id shaped like a secret (it would be stored with the audit events)', async () => {
    const { id, secret } = await issue();
    const res = await t.http.request(
      'POST',
      `/v1/credentials/${id}/revoke`,
      { reason: 'request id test' },
      { token: t.adminToken, headers: { 'x-request-id': secret } },
    );
    expect(res.status).toBe(202);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const kept = await t.http.request('GET', '/v1/owners', undefined, {
      token: t.adminToken,
      headers: { 'x-request-id': 'trace-abc_123' },
    });
    expect(kept.headers.get('x-request-id')).toBe('trace-abc_123');
  });

  it('leaves no pasted secret in any text or jsonb column, log line, audit event or webhook body', async () => {
    expect(pasted.length).toBeGreaterThan(15);
    const findings = (haystack: string) => pasted.filter((s) => haystack.includes(s) || haystack.includes(s.slice(-24)));
    const db = await databaseText(t.dataSource);
    expect(db).toContain('…');
    expect(findings(db)).toEqual([]);
    expect(findings(JSON.stringify(await t.dataSource.query('SELECT * FROM audit_events')))).toEqual([]);
    expect(findings(t.logs.text())).toEqual([]);
    expect(receiver.received.length).toBeGreaterThan(5);
    expect(findings(receiver.received.map((r) => r.body).join('\n'))).toEqual([]);
    expect(t.logs.lines.filter((line) => /"statusCode":5\d\d/.test(line))).toEqual([]);
  });
});
