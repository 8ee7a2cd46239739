import { createHmac, randomBytes } from 'node:crypto';

import { Webhook } from 'standardwebhooks';

import { Fixtures } from '../support/fixtures';
import { GatewayReceiver } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';
import { DAY, ReviewHelpers } from './review-helpers';

/**
 * Reminders: `review.reminder` events through the outbox to the notification
 * webhook, signed like gateway events, at 7, 3 and 1 days before the
 * deadline and daily after it, to owners that have not signed off; once per
 * stage, even with two schedulers sweeping at once.
 */
describe('review reminders', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let notifier: GatewayReceiver;
  let t: TestApp;
  let second: TestApp;
  let f: Fixtures;
  let h: ReviewHelpers;
  let campaign: any;
  const owners: Record<'a' | 'b' | 'c', { owner: any; token: string; creds: any[] }> = {} as any;

  beforeAll(async () => {
    notifier = await GatewayReceiver.start();
    const env = { NOTIFY_WEBHOOK_URL: notifier.url, NOTIFY_WEBHOOK_SECRET: secret };
    t = await startTestApp({ env });
    second = await startTestApp({
      roles: 'api',
      database: t.database,
      env: { ...env, ADMIN_TOKEN: t.adminToken, REDIS_PREFIX: t.redisPrefix },
    });
    f = new Fixtures(t);
    h = new ReviewHelpers(t, f);
    const product = await f.product();
    for (const [key, count] of [
      ['a', 2],
      ['b', 1],
      ['c', 1],
    ] as const) {
      const owner = await f.owner();
      const agent = await f.agent(owner.id);
      const creds = [];
      for (let i = 0; i < count; i++) creds.push((await f.credential(agent.id, [`${product.name}:read`])).credential);
      owners[key] = { owner, token: (await f.token('owner', owner.id)).token, creds };
    }
    campaign = await h.open({ name: 'Quarterly', dueInDays: 7, ownerIds: Object.values(owners).map((o) => o.owner.id) });
  });
  afterAll(async () => {
    await second.close({ keepState: true });
    await t.close();
    await notifier.close();
  });

  const setClocks = (at: number) => [t, second].forEach((app) => app.clock.set(new Date(at)));
  const dueAt = () => new Date(campaign.dueAt).getTime();
  const reminders = (stage?: string) =>
    notifier.events('review.reminder').filter((r) => r.json.data.campaignId === campaign.id && (!stage || r.json.data.stage === stage));
  const remindedOwners = (stage: string) =>
    reminders(stage)
      .map((r) => r.json.data.ownerId)
      .sort();
  const ownerIds = (...keys: Array<'a' | 'b' | 'c'>) => keys.map((k) => owners[k].owner.id).sort();

  async function sweepBoth(): Promise<number> {
    const results = await Promise.all([h.sweep(t), h.sweep(second)]);
    return results.reduce((n, r) => n + r.reminded, 0);
  }

  async function decideAll(key: 'a' | 'b' | 'c'): Promise<void> {
    for (const c of owners[key].creds) {
      const item = await h.itemOf(campaign.id, c.id);
      expect((await h.decide(campaign.id, item.id, { decision: 'keep' }, owners[key].token)).status).toBe(200);
    }
  }

  it('reminds every owner 7 days before the deadline, signed like gateway events', async () => {
    expect(await sweepBoth()).toBe(3);
    await notifier.waitFor(() => reminders('due_in_7d').length === 3, 10_000, 'three reminders');
    expect(remindedOwners('due_in_7d')).toEqual(ownerIds('a', 'b', 'c'));
    const toA = reminders('due_in_7d').find((r) => r.json.data.ownerId === owners.a.owner.id)!;
    expect(toA.json).toMatchObject({
      type: 'review.reminder',
      data: {
        campaignId: campaign.id,
        campaignName: 'Quarterly',
        dueAt: campaign.dueAt,
        stage: 'due_in_7d',
        overdue: false,
        ownerEmail: owners.a.owner.email,
        itemCount: 2,
        pendingCount: 2,
      },
    });
    // The reference verifier accepts it (the clock has not moved yet, so the timestamp is current).
    expect(() => new Webhook(secret).verify(toA.body, toA.headers)).not.toThrow();
    expect(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(toA.body, toA.headers)).toThrow();
    // Once per stage.
    expect(await sweepBoth()).toBe(0);
  });

  it('then at 3 and 1 days before, to owners that have not signed off', async () => {
    await decideAll('c');
    expect((await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, {}, owners.c.token)).status).toBe(201);
    setClocks(dueAt() - 3 * DAY);
    expect(await sweepBoth()).toBe(2);
    await notifier.waitFor(() => reminders('due_in_3d').length === 2, 10_000, 'due_in_3d');
    expect(remindedOwners('due_in_3d')).toEqual(ownerIds('a', 'b'));

    // Owner B has decided but not signed off: still chased, with nothing pending.
    await decideAll('b');
    setClocks(dueAt() - DAY + 60_000);
    expect(await sweepBoth()).toBe(2);
    await notifier.waitFor(() => reminders('due_in_1d').length === 2, 10_000, 'due_in_1d');
    expect(reminders('due_in_1d').find((r) => r.json.data.ownerId === owners.b.owner.id)!.json.data.pendingCount).toBe(0);
  });

  it('and daily after the deadline, until the owner signs off', async () => {
    setClocks(dueAt());
    expect(await sweepBoth()).toBe(2);
    expect((await t.http.get(`/v1/campaigns/${campaign.id}`, f.admin)).body.status).toBe('closed');
    await notifier.waitFor(() => reminders('overdue_1').length === 2, 10_000, 'overdue_1');
    expect(reminders('overdue_1')[0].json.data).toMatchObject({ overdue: true, campaignStatus: 'closed' });

    setClocks(dueAt() + DAY);
    expect(await sweepBoth()).toBe(2);
    expect((await t.http.post(`/v1/campaigns/${campaign.id}/signoff`, {}, owners.a.token)).status).toBe(201);
    setClocks(dueAt() + 2 * DAY + 5000);
    expect(await sweepBoth()).toBe(1);
    await notifier.waitFor(() => reminders('overdue_3').length === 1, 10_000, 'overdue_3');
    expect(remindedOwners('overdue_3')).toEqual(ownerIds('b'));

    // Signed with the configured secret, timestamped by the service's clock.
    const last = reminders('overdue_3')[0];
    const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`${last.headers['webhook-id']}.${last.headers['webhook-timestamp']}.${last.body}`)
      .digest('base64');
    expect(last.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(Number(last.headers['webhook-timestamp'])).toBe(Math.floor(t.clock.now().getTime() / 1000));
  });

  it('records each reminder once, with its event, and audits each round', async () => {
    const rows = await t.dataSource.query('SELECT stage, owner_id, event_id FROM review_reminders WHERE campaign_id = $1', [campaign.id]);
    expect(rows).toHaveLength(3 + 2 + 2 + 2 + 2 + 1);
    expect(rows.every((r: any) => r.event_id)).toBe(true);
    expect(reminders()).toHaveLength(rows.length);
    const audit = await t.http.get(`/v1/audit-events?targetId=${campaign.id}&action=campaign.reminders_sent&limit=50`, f.admin);
    expect(audit.body.items.map((e: any) => e.data.stage).sort()).toEqual(
      ['due_in_1d', 'due_in_3d', 'due_in_7d', 'overdue_1', 'overdue_2', 'overdue_3'].sort(),
    );
  });
});
