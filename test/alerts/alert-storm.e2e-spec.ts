import { AlertDetectorService } from '../../src/alerts/alert-detector.service';
import { DAY_MS } from '../../src/common/clock/clock';
import { UsageRecorderService } from '../../src/enforcement/usage-recorder.service';
import { copyCredentials } from '../support/credential-copies';
import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';

const BACKLOG_MAX = 50;

/**
 * An alert storm (bench/verify.bench.ts warms a replica with 100,000 keys,
 * most of them dormant): thousands of sightings in one usage flush are raised
 * a chunk at a time with one statement per table per chunk, each alert with
 * its own audit event in its transaction, while the backlog of sightings
 * waiting to be raised stays within ALERT_BACKLOG_MAX, also when Postgres
 * stalls the raising: detection waits for room, and no sighting is dropped.
 * The statements are counted in Postgres itself, by statement-level triggers.
 */
describe('alerts: a storm of sightings is raised set-based, with a bounded backlog', () => {
  let t: TestApp;
  let f: Fixtures;
  let agentId: string;
  let productName: string;
  const recorder = () => t.app.get(UsageRecorderService);
  const detector = () => t.app.get(AlertDetectorService);

  /** `count` active credentials: one issued through the API, the rest copied from it in SQL. */
  const credentials = async (count: number): Promise<string[]> => {
    const made = await f.credential(agentId, [`${productName}:read`]);
    const template = made.credential.id as string;
    const before: Array<{ id: string }> = await t.dataSource.query(`SELECT id FROM credentials`);
    await copyCredentials(t.dataSource, template, count - 1);
    const known = new Set(before.map((r) => r.id));
    const after: Array<{ id: string }> = await t.dataSource.query(`SELECT id FROM credentials`);
    return [template, ...after.map((r) => r.id).filter((id) => !known.has(id))];
  };
  /** A valid use of each credential, as verification records it. */
  const use = (ids: string[]) => {
    for (const credentialId of ids) {
      recorder().record({
        credentialId,
        at: t.clock.now(),
        scope: `${productName}:read`,
        code: 'VALID',
        ip: '198.51.100.9',
        authenticated: true,
      });
    }
  };
  const dormantAlerts = async (ids: string[]): Promise<number> =>
    (
      await t.dataSource.query(
        `SELECT count(*)::int AS n FROM alerts WHERE type = 'dormant_reactivated' AND credential_id = ANY ($1::uuid[])`,
        [ids],
      )
    )[0].n;

  beforeAll(async () => {
    t = await startTestApp({ env: { ALERT_BACKLOG_MAX: String(BACKLOG_MAX), USAGE_FLUSH_INTERVAL_MS: '60000' } });
    f = new Fixtures(t);
    const world = await f.world();
    agentId = world.agent.id;
    productName = world.product.name;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('1,200 dormant keys waking in one flush: a statement per table per chunk, each alert audited in its own transaction, nothing dropped', async () => {
    const ids = await credentials(1200);
    t.clock.advance(31 * DAY_MS);
    await t.dataSource.query(`
      CREATE TABLE storm_statements (tbl text NOT NULL, tx bigint NOT NULL);
      CREATE FUNCTION storm_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO storm_statements VALUES (TG_TABLE_NAME, txid_current()); RETURN NULL; END $$;
      CREATE TRIGGER storm_alerts AFTER INSERT ON alerts FOR EACH STATEMENT EXECUTE FUNCTION storm_count();
      CREATE TRIGGER storm_audit AFTER INSERT ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION storm_count();
      CREATE TRIGGER storm_outbox AFTER INSERT ON outbox_events FOR EACH STATEMENT EXECUTE FUNCTION storm_count();`);
    const waitedBefore = detector().backlog.waitedForRoom;
    try {
      use(ids);
      await recorder().flush();
    } finally {
      await t.dataSource.query(`
        DROP TRIGGER storm_alerts ON alerts; DROP TRIGGER storm_audit ON audit_events; DROP TRIGGER storm_outbox ON outbox_events;
        DROP FUNCTION storm_count();`);
    }

    expect(await dormantAlerts(ids)).toBe(1200);
    expect(detector().failedToRaise).toBe(0);
    // Each alert's alert.raised, written in the alert's own transaction (same xmin), exactly once.
    const audited: Array<{ n: number }> = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM alerts a
        WHERE a.type = 'dormant_reactivated' AND a.credential_id = ANY ($1::uuid[])
          AND (SELECT count(*) FROM audit_events e
                WHERE e.target_id = a.id::text AND e.action = 'alert.raised' AND e.xmin::text = a.xmin::text) = 1
          AND (SELECT count(*) FROM outbox_events o
                WHERE o.type = 'alert.raised' AND o.payload::jsonb->'data'->>'id' = a.id::text AND o.xmin::text = a.xmin::text) = 1`,
      [ids],
    );
    expect(audited[0].n).toBe(1200);

    // Per transaction that raised alerts: one INSERT into each table, however many alerts it carried.
    const perTx: Array<{ tx: string; alerts: number; audit: number; outbox: number; raised: number }> = await t.dataSource.query(
      `SELECT s.tx::text AS tx,
              count(*) FILTER (WHERE tbl = 'alerts')::int AS alerts,
              count(*) FILTER (WHERE tbl = 'audit_events')::int AS audit,
              count(*) FILTER (WHERE tbl = 'outbox_events')::int AS outbox,
              (SELECT count(*)::int FROM alerts a WHERE a.xmin::text = (s.tx % 4294967296)::text) AS raised
         FROM storm_statements s GROUP BY s.tx HAVING count(*) FILTER (WHERE tbl = 'alerts') > 0`,
    );
    expect(perTx.reduce((sum, r) => sum + r.raised, 0)).toBe(1200);
    for (const r of perTx) {
      expect({ alerts: r.alerts, audit: r.audit, outbox: r.outbox }).toEqual({ alerts: 1, audit: 1, outbox: 1 });
      expect(r.raised).toBeLessThanOrEqual(BACKLOG_MAX);
    }
    // A chunk is what the backlog held: about 1,200 / 50 transactions, not 1,200.
    expect(perTx.length).toBeGreaterThanOrEqual(1200 / BACKLOG_MAX);
    expect(perTx.length).toBeLessThanOrEqual(2 * (1200 / BACKLOG_MAX));
    // The backlog was full and detection waited for room; it never held more than its bound.
    expect(detector().backlog.highWater).toBe(BACKLOG_MAX);
    expect(detector().backlog.waitedForRoom).toBeGreaterThan(waitedBefore);
    expect(detector().backlog.size).toBe(0);

    const chain = await t.http.get('/v1/audit-events/verify', f.admin);
    expect(chain.body).toMatchObject({ valid: true });
  });

  it('while Postgres stalls the raising, the backlog stays at its bound and the flush waits; once it moves on, every sighting is raised', async () => {
    const ids = await credentials(300);
    t.clock.advance(31 * DAY_MS);
    const blocker = t.dataSource.createQueryRunner();
    await blocker.connect();
    await blocker.startTransaction();
    let flushed = false;
    try {
      await blocker.query('LOCK TABLE alerts IN SHARE ROW EXCLUSIVE MODE');
      use(ids);
      const flushing = recorder()
        .flush()
        .then(() => (flushed = true));
      const deadline = Date.now() + 10_000;
      while (detector().backlog.size < BACKLOG_MAX && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Held for a while: the sightings past the bound wait in detection, not in memory as alerts.
      for (let i = 0; i < 10; i++) {
        expect(detector().backlog.size).toBe(BACKLOG_MAX);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(flushed).toBe(false);
      expect(await dormantAlerts(ids)).toBe(0);
      await blocker.commitTransaction();
      await flushing;
    } finally {
      if (blocker.isTransactionActive) await blocker.rollbackTransaction();
      await blocker.release();
    }
    expect(flushed).toBe(true);
    expect(await dormantAlerts(ids)).toBe(300);
    expect(detector().backlog.size).toBe(0);
    expect(detector().failedToRaise).toBe(0);
  });

  it('a chunk the database is unavailable for is kept and raised again once it is back, not dropped', async () => {
    const ids = await credentials(120);
    t.clock.advance(31 * DAY_MS);
    const failedBefore = detector().failedToRaise;
    const retriedBefore = detector().retried;
    // Every insert into alerts fails as a server refusing connections does (SQLSTATE 57P03, cannot_connect_now).
    await t.dataSource.query(`
      CREATE FUNCTION storm_unavailable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the database system is starting up' USING ERRCODE = '57P03'; END $$;
      CREATE TRIGGER storm_unavailable BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION storm_unavailable();`);
    let flushed = false;
    let flushing: Promise<unknown> = Promise.resolve();
    try {
      use(ids);
      flushing = recorder()
        .flush()
        .then(() => (flushed = true));
      const deadline = Date.now() + 10_000;
      while (detector().retried - retriedBefore < 2 * BACKLOG_MAX && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(detector().retried - retriedBefore).toBeGreaterThanOrEqual(2 * BACKLOG_MAX);
      expect(flushed).toBe(false);
      expect(await dormantAlerts(ids)).toBe(0);
      expect(detector().backlog.size).toBeLessThanOrEqual(BACKLOG_MAX);
      expect(t.logs.text()).toContain('alerts kept, raised again shortly');
    } finally {
      await t.dataSource.query('DROP TRIGGER storm_unavailable ON alerts; DROP FUNCTION storm_unavailable()');
    }
    await flushing;
    expect(await dormantAlerts(ids)).toBe(120);
    // Raised once each: no sighting was given up, none counted twice.
    const counts: Array<{ count: number }> = await t.dataSource.query(
      `SELECT count FROM alerts WHERE type = 'dormant_reactivated' AND credential_id = ANY ($1::uuid[])`,
      [ids],
    );
    expect(counts.every((c) => c.count === 1)).toBe(true);
    expect(detector().failedToRaise).toBe(failedBefore);
  });
});
