import { Client, Notification } from 'pg';
import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';

import { AuditService } from '../../src/audit/audit.service';
import { systemContext } from '../../src/auth/actor';
import { inSavepoint } from '../../src/common/db/savepoint';
import { TransactionNotifications } from '../../src/common/db/transaction-notifications';
import { CREDENTIAL_CHANGES_CHANNEL } from '../../src/enforcement/credential-changes.repository';
import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';

const CHANNEL = 'agc_test_transaction_notes';

/**
 * A transaction's NOTIFYs (src/common/db/transaction-notifications.ts) ride
 * one of its later statements, the audit append, instead of a round trip of
 * their own; whatever none took is sent just before COMMIT. Either way they
 * are sent inside the transaction: heard once it commits, never if it rolls
 * back, and not lost with a savepoint rolled back to.
 */
describe('notifications sent with their transaction', () => {
  let t: TestApp;
  let f: Fixtures;
  let listener: Client;
  const heard: Array<{ channel: string; payload: string }> = [];
  let marker = 0;

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    listener = new Client({ connectionString: t.database.url });
    await listener.connect();
    listener.on('notification', (n: Notification) => heard.push({ channel: n.channel, payload: n.payload ?? '' }));
    await listener.query(`LISTEN ${CHANNEL}`);
    await listener.query(`LISTEN ${CREDENTIAL_CHANGES_CHANNEL}`);
  });

  afterAll(async () => {
    await listener.end();
    await t.close();
  });

  const payloadsOn = (channel: string) => heard.filter((h) => h.channel === channel).map((h) => h.payload);
  /** Commits a marker notification and waits for it: everything committed before it has been heard by then. */
  async function heardAllCommitted(): Promise<void> {
    const payload = `marker-${++marker}`;
    await t.dataSource.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
    await eventually(async () => payloadsOn(CHANNEL).includes(payload), 5_000);
  }

  it("sends a revocation's credential-change notification with its audit append, not as a statement of its own", async () => {
    const { product, agent } = await f.world();
    const { credential } = await f.credential(agent.id, [`${product.name}:read`]);
    await heardAllCommitted();
    const statements: string[] = [];
    const original = PostgresQueryRunner.prototype.query;
    const spy = jest.spyOn(PostgresQueryRunner.prototype, 'query').mockImplementation(function (
      this: PostgresQueryRunner,
      ...args: Parameters<PostgresQueryRunner['query']>
    ) {
      statements.push(args[0]);
      return original.apply(this, args);
    } as PostgresQueryRunner['query']);
    try {
      const res = await t.http.post(`/v1/credentials/${credential.id}/revoke`, { reason: 'ride along' }, f.admin);
      expect(res.status).toBe(202);
    } finally {
      spy.mockRestore();
    }
    const notifying = statements.filter((s) => s.includes('pg_notify'));
    expect(notifying.length).toBeGreaterThan(0);
    for (const s of notifying) expect(s).toContain('INSERT INTO audit_events');
    await eventually(async () => payloadsOn(CREDENTIAL_CHANGES_CHANNEL).some((p) => p.split(',').includes(credential.id)), 5_000);
  });

  it('sends before COMMIT what no statement took, once; nothing when the transaction rolls back', async () => {
    const notifications = t.app.get(TransactionNotifications);
    await t.dataSource.transaction(async (em) => {
      await notifications.send(em, CHANNEL, ['committed']);
      await em.query('SELECT 1');
    });
    await t.dataSource
      .transaction(async (em) => {
        await notifications.send(em, CHANNEL, ['rolled back']);
        throw new Error('undo');
      })
      .catch(() => undefined);
    await heardAllCommitted();
    expect(payloadsOn(CHANNEL).filter((p) => p === 'committed')).toHaveLength(1);
    expect(payloadsOn(CHANNEL)).not.toContain('rolled back');
  });

  it('does not lose a notification with a savepoint rolled back to, though an audit append inside it could have carried it', async () => {
    const notifications = t.app.get(TransactionNotifications);
    const audit = t.app.get(AuditService);
    await t.dataSource.transaction(async (em) => {
      await notifications.send(em, CHANNEL, ['outside the savepoint']);
      await inSavepoint(em, async (inner) => {
        await audit.record(inner, systemContext('test', 'savepoint-test'), {
          action: 'credential.revoked',
          targetType: 'credential',
          targetId: 'savepoint-test',
        });
        throw new Error('undo the savepoint');
      }).catch(() => undefined);
    });
    await heardAllCommitted();
    expect(payloadsOn(CHANNEL)).toContain('outside the savepoint');
  });
});
