import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Fixtures } from '../support/fixtures';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import { databaseText, expectProblem, settledTableCounts, tableCounts } from '../support/problem';
import { startTestApp, TestApp } from '../support/test-app';
import { githubHeaders, GithubKey, githubKey, sha256, writeGithubKeys } from './leak-helpers';

/**
 * Leak response on the real app: a reported secret is found among every
 * version a credential ever had; a version gateways still accept is revoked
 * or rotated at once, a retired one (or one of a revoked credential) only
 * reported; every report is audited by hash, and the secret itself is found
 * nowhere afterwards (database, logs, audit log, webhooks).
 */
describe('leak reports', () => {
  let t: TestApp;
  let f: Fixtures;
  let receiver: GatewayReceiver;
  let product: any;
  let agent: any;
  let responder: string;
  let dir: string;
  let github: GithubKey;
  /** Every secret presented to the app. */
  const presented: string[] = [];

  async function issue(overrides: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
    const issued = await f.credential(agent.id, [`${product.name}:read`], overrides);
    presented.push(issued.secret!);
    return { id: issued.credential.id, secret: issued.secret! };
  }

  async function credential(id: string): Promise<any> {
    return (await t.http.get(`/v1/credentials/${id}`, t.adminToken)).body;
  }

  /** Rotates and waits for the new version; returns its secret (claimed). */
  async function rotate(id: string, immediate: boolean): Promise<string> {
    const before = (await credential(id)).secretVersion;
    expect((await t.http.post(`/v1/credentials/${id}/rotate`, { immediate }, t.adminToken)).status).toBe(202);
    await eventually(async () => (await credential(id)).secretVersion === before + 1, 20_000, 'rotation');
    await eventually(
      async () => {
        const rows = await t.dataSource.query(`SELECT status FROM rotations WHERE credential_id = $1 AND status = 'running'`, [id]);
        return rows.length === 0;
      },
      20_000,
      'rotation finished',
    );
    const claimed = await t.http.post(`/v1/credentials/${id}/claim`, undefined, t.adminToken);
    expect(claimed.status).toBe(200);
    presented.push(claimed.body.secret);
    return claimed.body.secret;
  }

  function report(body: Record<string, unknown>, token = responder) {
    return t.http.post('/v1/leaks', body, token);
  }

  async function auditOf(targetId: string, action: string): Promise<any[]> {
    const r = await t.http.get(`/v1/audit-events?targetId=${targetId}&action=${action}`, t.adminToken);
    expect(r.status).toBe(200);
    return r.body.items;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'leaks-'));
    github = githubKey('gh-key-1');
    writeGithubKeys(join(dir, 'keys.json'), [github]);
    t = await startTestApp({ env: { LOG_LEVEL: 'debug', GITHUB_SECRET_SCANNING_KEYS_FILE: join(dir, 'keys.json') } });
    f = new Fixtures(t);
    receiver = await GatewayReceiver.start();
    const gw = await t.http.post(
      '/v1/gateways',
      { name: 'gw-leaks', url: receiver.url, environments: ['production', 'sandbox'] },
      t.adminToken,
    );
    expect(gw.status).toBe(201);
    ({ product, agent } = await f.world());
    responder = (await f.token('responder')).token;
  });

  afterAll(async () => {
    await t.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('POST /v1/leaks', () => {
    it('revokes a credential whose current secret is reported (the default action), through the revocation use case', async () => {
      const { id, secret } = await issue();
      const res = await report({ secret, source: 'pastebin', url: 'https://paste.example.com/abc' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        matched: true,
        secretSha256: sha256(secret),
        credentialId: id,
        version: 1,
        current: true,
        versionState: 'current',
        actionTaken: 'revoked',
        revocationId: expect.any(String),
      });
      expect(await credential(id)).toMatchObject({
        status: 'revoked',
        revokedReason: 'leak reported: pastebin https://paste.example.com/abc',
      });
      const revocation = await t.http.get(`/v1/revocations/${res.body.revocationId}?waitSeconds=10`, t.adminToken);
      expect(revocation.body).toMatchObject({ credentialIds: [id], status: 'complete' });
      await receiver.waitFor((r) => r.events('credential.revoked', id).length === 1);

      const [event] = await auditOf(sha256(secret), 'leak.reported');
      expect(event).toMatchObject({
        targetType: 'leak',
        targetId: sha256(secret),
        data: {
          secretSha256: sha256(secret),
          source: 'pastebin',
          url: 'https://paste.example.com/abc',
          requestedAction: 'revoke',
          matched: true,
          credentialId: id,
          version: 1,
          versionState: 'current',
          actionTaken: 'revoked',
          revocationId: res.body.revocationId,
        },
      });
      expect(event.actor.role).toBe('responder');
      expect(await auditOf(id, 'credential.revoked')).toHaveLength(1);
    });

    it('accepts the SHA-256 instead of the secret, and action none only reports', async () => {
      const { id, secret } = await issue();
      const res = await report({ secretSha256: sha256(secret), action: 'none' }, t.adminToken);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ matched: true, credentialId: id, current: true, actionTaken: 'none' });
      expect(res.body.revocationId).toBeUndefined();
      expect((await credential(id)).status).toBe('active');
      const [event] = await auditOf(sha256(secret), 'leak.reported');
      expect(event.data).toMatchObject({ requestedAction: 'none', actionTaken: 'none', credentialId: id, source: null, url: null });
    });

    it('rotates at once with action rotate: an immediate rotation, the leaked version retired', async () => {
      const { id, secret } = await issue({ environment: 'sandbox' });
      const res = await report({ secret, action: 'rotate', source: 'ci log' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ matched: true, credentialId: id, version: 1, current: true, actionTaken: 'rotated' });
      const rotation = await t.http.get(`/v1/rotations/${res.body.rotationId}`, t.adminToken);
      expect(rotation.body).toMatchObject({ credentialId: id, immediate: true, reason: 'leak reported: ci log', fromVersion: 1 });
      await eventually(async () => (await credential(id)).secretVersion === 2, 20_000, 'rotated to version 2');
      // The leaked version is past its (zero) grace now: reporting it again changes nothing.
      const again = await report({ secret });
      expect(again.body).toMatchObject({
        matched: true,
        credentialId: id,
        version: 1,
        current: false,
        versionState: 'retired',
        actionTaken: 'none',
      });
      expect((await credential(id)).status).toBe('active');
    });

    it('revokes for a previous version still in its grace period (gateways still accept it)', async () => {
      const { id, secret: first } = await issue({ environment: 'sandbox' });
      await rotate(id, false);
      const res = await report({ secret: first });
      expect(res.body).toMatchObject({
        matched: true,
        credentialId: id,
        version: 1,
        current: false,
        versionState: 'grace',
        actionTaken: 'revoked',
      });
      expect((await credential(id)).status).toBe('revoked');
    });

    it('takes no action for a retired version, records leak.retired_key_reported and raises retired_key_used', async () => {
      const { id, secret: first } = await issue({ environment: 'sandbox' });
      const second = await rotate(id, true);
      const res = await report({ secret: first, source: 'old backup' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        matched: true,
        secretSha256: sha256(first),
        credentialId: id,
        version: 1,
        current: false,
        versionState: 'retired',
        actionTaken: 'none',
        alertId: expect.any(String),
      });
      expect((await credential(id)).status).toBe('active');
      const alert = await t.http.get(`/v1/alerts/${res.body.alertId}`, t.adminToken);
      expect(alert.body).toMatchObject({ type: 'retired_key_used', severity: 'high', status: 'open', credentialId: id, count: 1 });
      expect(alert.body.evidence).toMatchObject({ via: 'leak_report', version: 1, versionState: 'retired', source: 'old backup' });
      expect(JSON.stringify(alert.body)).not.toContain(first);
      const [finding] = await auditOf(id, 'leak.retired_key_reported');
      expect(finding.data).toMatchObject({
        secretSha256: sha256(first),
        version: 1,
        versionState: 'retired',
        source: 'old backup',
        alertId: res.body.alertId,
      });
      // The current version is still acted on.
      expect((await report({ secret: second })).body).toMatchObject({ version: 2, current: true, actionTaken: 'revoked' });
    });

    it('takes no action for a revoked credential, whatever the action', async () => {
      const { id, secret } = await issue();
      expect((await t.http.post(`/v1/credentials/${id}/revoke`, { reason: 'done' }, t.adminToken)).status).toBe(202);
      for (const action of ['revoke', 'rotate']) {
        const res = await report({ secret, action });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ matched: true, credentialId: id, current: true, versionState: 'revoked', actionTaken: 'none' });
      }
      expect(await auditOf(id, 'leak.retired_key_reported')).toHaveLength(2);
      expect(await auditOf(id, 'credential.revoked')).toHaveLength(1);
    });

    it('refuses rotate for the pending version of an unfinished rotation (409, nothing changed)', async () => {
      const { id } = await issue({ environment: 'sandbox' });
      const pending = `agk_test_${'P'.repeat(43)}abcdef`;
      presented.push(pending);
      // A rotation that published version 2 and then failed: version 2 stays valid beside version 1 (rotations.repository.ts).
      await t.dataSource.query(
        `INSERT INTO rotations (id, credential_id, owner_id, secret_store, secret_target, trigger, immediate, requested_by, step, status,
                                from_version, from_version_id, from_secret_sha256, to_version, new_version_id, new_secret_sha256, new_secret_ref,
                                attempts, error, next_attempt_at, started_at, published_at, failed_at, grace_ends_at, created_at, updated_at)
         SELECT gen_random_uuid(), id, owner_id, secret_store, '{}'::jsonb, 'manual', false, 'test', 'published', 'failed',
                1, secret_version_id, secret_sha256, 2, 'v2', $2, 'ref-v2', 3, 'store down', now(), now(), now(), now(), now() + interval '1 day', now(), now()
           FROM credentials WHERE id = $1`,
        [id, sha256(pending)],
      );
      const before = await settledTableCounts(t.dataSource);
      const refused = await report({ secret: pending, action: 'rotate' });
      expectProblem(refused, 409);
      expect(refused.body.code).toBe('LEAKED_VERSION_PENDING');
      expect(await tableCounts(t.dataSource)).toEqual(before);
      const revoked = await report({ secret: pending });
      expect(revoked.body).toMatchObject({ credentialId: id, version: 2, current: false, versionState: 'pending', actionTaken: 'revoked' });
    });

    it('answers matched false for an unknown secret, and audits it by hash', async () => {
      const unknown = `agk_live_${'Z'.repeat(43)}000000`;
      presented.push(unknown);
      const res = await report({ secret: unknown, source: 'gist' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ matched: false, secretSha256: sha256(unknown), actionTaken: 'none' });
      const [event] = await auditOf(sha256(unknown), 'leak.reported');
      expect(event.data).toMatchObject({ secretSha256: sha256(unknown), matched: false, actionTaken: 'none', source: 'gist' });
    });

    it('redacts a secret pasted into source or url, as in any free text', async () => {
      const { id, secret } = await issue();
      const res = await report({ secretSha256: sha256(secret), url: `https://paste.example.com/?k=${secret}` });
      expect(res.body).toMatchObject({ credentialId: id, actionTaken: 'revoked' });
      const stored = `https://paste.example.com/?k=agk_live_…${secret.slice(-4)}`;
      expect((await credential(id)).revokedReason).toBe(`leak reported: ${stored}`);
      const [event] = await auditOf(sha256(secret), 'leak.reported');
      expect(event.data).toMatchObject({ url: stored, redactedFields: ['url'] });
    });

    it('refuses bad input with a 400 naming the field, and stores nothing', async () => {
      const { id, secret } = await issue();
      const before = await settledTableCounts(t.dataSource);
      const cases: Array<[unknown, string]> = [
        [{}, 'secret'],
        [{ source: 'x' }, 'secret'],
        [{ secret, secretSha256: sha256(secret) }, 'secretSha256'],
        [{ secretSha256: sha256(secret).toUpperCase() }, 'secretSha256'],
        [{ secretSha256: 'abc' }, 'secretSha256'],
        [{ secret: 42 }, 'secret'],
        [{ secret: '' }, 'secret'],
        [{ secret, action: 'delete' }, 'action'],
        [{ secret, source: 's'.repeat(201) }, 'source'],
        [{ secret, url: 'u'.repeat(2049) }, 'url'],
        [{ secret, extra: 1 }, 'extra'],
        [{ secret: null }, 'secret'],
      ];
      for (const [body, field] of cases) {
        const res = await report(body as Record<string, unknown>);
        try {
          expectProblem(res, 400, [field]);
          expect(res.text).not.toContain(secret);
        } catch (error) {
          throw new Error(`${JSON.stringify(body).slice(0, 120)}: ${(error as Error).message}`);
        }
      }
      expect(await tableCounts(t.dataSource)).toEqual(before);
      expect((await credential(id)).status).toBe('active');
    });

    it('is for admins and responders only', async () => {
      const { id, secret } = await issue();
      const owner = await f.owner();
      for (const token of [(await f.token('auditor')).token, (await f.token('owner', owner.id)).token]) {
        expectProblem(await report({ secret }, token), 403);
      }
      expectProblem(await t.http.request('POST', '/v1/leaks', { secret }), 401);
      expect((await credential(id)).status).toBe('active');
      expect(await auditOf(sha256(secret), 'leak.reported')).toEqual([]);
    });
  });

  describe('POST /v1/leaks/github', () => {
    const post = (body: string, headers: Record<string, string>) =>
      t.http.request('POST', '/v1/leaks/github', undefined, { raw: body, headers });

    it('verifies the signature over the raw bytes, revokes valid versions and labels each token', async () => {
      const live = await issue();
      const unknown = `agk_live_${'Q'.repeat(43)}111111`;
      presented.push(unknown);
      // Whitespace and key order as GitHub sends them: the signature covers these exact bytes.
      const body = `[ {"token":"${live.secret}","type":"agk_live","url":"https://github.com/o/r/blob/main/.env","source":"content"},
        {"type":"agk_live","token":"${unknown}","url":"https://github.com/o/r/commit/1","source":"commit"} ]`;
      const res = await post(body, githubHeaders(github, body));
      expect(res.status).toBe(200);
      expect(res.body).toEqual([
        { token_hash: sha256(live.secret), token_type: 'agk_live', label: 'true_positive' },
        { token_hash: sha256(unknown), token_type: 'agk_live', label: 'false_positive' },
      ]);
      expect(await credential(live.id)).toMatchObject({
        status: 'revoked',
        revokedReason: 'leak reported: github content https://github.com/o/r/blob/main/.env',
      });
      const [event] = await auditOf(sha256(live.secret), 'leak.reported');
      expect(event.actor).toMatchObject({ tokenId: 'system:github-secret-scanning', role: 'system' });
      expect(event.data).toMatchObject({ actionTaken: 'revoked', requestedAction: 'revoke' });
    });

    it('labels a retired version false_positive and takes no action', async () => {
      const { id, secret: first } = await issue({ environment: 'sandbox' });
      await rotate(id, true);
      const body = JSON.stringify([{ token: first, type: 'agk_test', url: 'https://github.com/o/r', source: 'content' }]);
      const res = await post(body, githubHeaders(github, body));
      expect(res.body).toEqual([{ token_hash: sha256(first), token_type: 'agk_test', label: 'false_positive' }]);
      expect((await credential(id)).status).toBe('active');
      expect(await auditOf(id, 'leak.retired_key_reported')).toHaveLength(1);
    });

    it('answers 401 to a bad, missing or unknown-key signature, and does nothing', async () => {
      const { id, secret } = await issue();
      const body = JSON.stringify([{ token: secret, type: 'agk_live', url: 'https://github.com/o/r', source: 'content' }]);
      const signed = githubHeaders(github, body);
      const stranger = githubKey('gh-key-1'); // same identifier, another key
      const before = await settledTableCounts(t.dataSource);
      const attempts: Array<[string, string, Record<string, string>]> = [
        ['no signature', body, { 'content-type': 'application/json', 'github-public-key-identifier': github.identifier }],
        [
          'no identifier',
          body,
          { 'content-type': 'application/json', 'github-public-key-signature': signed['github-public-key-signature'] },
        ],
        ['unknown identifier', body, { ...signed, 'github-public-key-identifier': 'gh-key-unknown' }],
        ['signed by another key', body, githubHeaders(stranger, body)],
        ['body changed after signing', body.replace('content', 'commit'), signed],
        ['one byte more', `${body} `, signed],
        ['not base64', body, { ...signed, 'github-public-key-signature': '%%%' }],
        ['garbage DER', body, { ...signed, 'github-public-key-signature': Buffer.from('not a signature').toString('base64') }],
      ];
      for (const [what, sent, headers] of attempts) {
        const res = await post(sent, headers);
        try {
          expectProblem(res, 401);
          expect(res.text).not.toContain(secret);
        } catch (error) {
          throw new Error(`${what}: ${(error as Error).message}`);
        }
      }
      expect(await tableCounts(t.dataSource)).toEqual(before);
      expect((await credential(id)).status).toBe('active');
    });

    it('refuses a signed body that is not a list of tokens with a 400 naming the field, and stores nothing', async () => {
      const before = await settledTableCounts(t.dataSource);
      const cases: Array<[string, string]> = [
        ['{"token":"x"}', 'body'],
        ['[{"type":"agk_live"}]', '[0].token'],
        ['[{"token":"x","type":"agk_live","extra":1}]', '[0].extra'],
        ['[{"token":"x","type":"agk_live"},{"token":7,"type":"agk_live"}]', '[1].token'],
        ['not json', 'body'],
      ];
      for (const [body, field] of cases) {
        const res = await post(body, githubHeaders(github, body));
        try {
          expectProblem(res, 400, [field]);
        } catch (error) {
          throw new Error(`${body}: ${(error as Error).message}`);
        }
      }
      expect(await tableCounts(t.dataSource)).toEqual(before);
    });

    it('picks up a key added to the keys file without a restart', async () => {
      const next = githubKey('gh-key-2');
      writeGithubKeys(join(dir, 'keys.json'), [next, github]);
      const { id, secret } = await issue();
      const body = JSON.stringify([{ token: secret, type: 'agk_live', url: 'https://github.com/o/r', source: 'content' }]);
      const res = await post(body, githubHeaders(next, body));
      expect(res.status).toBe(200);
      expect(res.body[0].label).toBe('true_positive');
      expect((await credential(id)).status).toBe('revoked');
    });
  });

  describe('GitLab token revocation', () => {
    it('lists the revocable token types', async () => {
      const res = await t.http.get('/v1/revocable_token_types', responder);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ types: ['agk_live', 'agk_test'] });
    });

    it('revokes each reported token that is a valid version, 204, and audits every one', async () => {
      const live = await issue();
      const sandbox = await issue({ environment: 'sandbox' });
      const unknown = `agk_test_${'R'.repeat(43)}222222`;
      presented.push(unknown);
      const res = await t.http.post(
        '/v1/revoke_tokens',
        [
          { type: 'agk_live', token: live.secret, location: 'https://gitlab.example.com/g/p/-/blob/main/.env' },
          {
            type: 'agk_test',
            token: sandbox.secret,
            location: 'https://gitlab.example.com/g/p/-/blob/main/ci.yml',
            vulnerability: { id: 7 },
          },
          // GitLab adds the finding's vulnerability record, or null, and may have no location: ignored.
          { type: 'agk_test', token: unknown, location: null, vulnerability: null },
        ],
        responder,
      );
      expect(res.status).toBe(204);
      expect(await credential(live.id)).toMatchObject({
        status: 'revoked',
        revokedReason: 'leak reported: gitlab agk_live https://gitlab.example.com/g/p/-/blob/main/.env',
      });
      expect((await credential(sandbox.id)).status).toBe('revoked');
      for (const s of [live.secret, sandbox.secret, unknown]) expect(await auditOf(sha256(s), 'leak.reported')).toHaveLength(1);
    });

    it('refuses bad input with a 400 naming the field, and stores nothing', async () => {
      const { id, secret } = await issue();
      const before = await settledTableCounts(t.dataSource);
      const cases: Array<[unknown, string]> = [
        [{ type: 'agk_live', token: secret }, 'body'],
        [[{ type: 'ghp', token: secret }], '[0].type'],
        [[{ type: 'agk_live', token: secret }, { type: 'agk_live' }], '[1].token'],
        [[{ type: 'agk_live', token: secret, location: 42 }], '[0].location'],
        [[{ type: 'agk_live', token: secret, extra: true }], '[0].extra'],
        [['x'], '[0]'],
        [[{ type: 'agk_live', token: 'a\u0000b' }], '[0].token'],
      ];
      for (const [body, field] of cases) {
        const res = await t.http.post('/v1/revoke_tokens', body, responder);
        try {
          expectProblem(res, 400, [field]);
          expect(res.text).not.toContain(secret);
        } catch (error) {
          throw new Error(`${JSON.stringify(body).slice(0, 120)}: ${(error as Error).message}`);
        }
      }
      expect(await tableCounts(t.dataSource)).toEqual(before);
      expect((await credential(id)).status).toBe('active');
    });

    it('is for admins and responders only', async () => {
      const { id, secret } = await issue();
      const owner = await f.owner();
      for (const token of [(await f.token('auditor')).token, (await f.token('owner', owner.id)).token]) {
        expectProblem(await t.http.get('/v1/revocable_token_types', token), 403);
        expectProblem(await t.http.post('/v1/revoke_tokens', [{ type: 'agk_live', token: secret }], token), 403);
      }
      expectProblem(await t.http.get('/v1/revocable_token_types'), 401);
      expectProblem(await t.http.post('/v1/revoke_tokens', [{ type: 'agk_live', token: secret }]), 401);
      expect((await t.http.get('/v1/revocable_token_types', t.adminToken)).status).toBe(200);
      expect((await credential(id)).status).toBe('active');
    });
  });

  it('leaves no presented secret in any table, log line, audit event or webhook body', async () => {
    expect(presented.length).toBeGreaterThan(15);
    const findings = (haystack: string) => presented.filter((s) => haystack.includes(s) || haystack.includes(s.slice(9, 9 + 43)));
    const { stdout: dump } = await promisify(execFile)('pg_dump', ['--data-only', '--no-owner', t.database.url], {
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(dump).toContain('leak.reported');
    expect(findings(dump)).toEqual([]);
    const db = await databaseText(t.dataSource);
    expect(db).toContain(sha256(presented[0]));
    expect(findings(db)).toEqual([]);
    expect(findings(JSON.stringify(await t.dataSource.query('SELECT * FROM audit_events')))).toEqual([]);
    expect(findings(t.logs.text())).toEqual([]);
    expect(receiver.received.length).toBeGreaterThan(5);
    expect(findings(receiver.received.map((r) => r.body).join('\n'))).toEqual([]);
    expect(t.logs.lines.filter((line) => /"statusCode":5\d\d/.test(line))).toEqual([]);
  });
});
