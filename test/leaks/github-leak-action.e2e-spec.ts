import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Fixtures } from '../support/fixtures';
import { eventually } from '../support/gateway-receiver';
import { startTestApp, TestApp } from '../support/test-app';
import { createTestDatabase, dropTestDatabase } from '../support/test-db';
import { githubHeaders, GithubKey, githubKey, sha256, writeGithubKeys } from './leak-helpers';

/**
 * LEAK_ACTION decides what a GitHub secret scanning alert does to a valid
 * version: `rotate` rotates at once (and revokes when a rotation cannot
 * start: a scanner cannot be asked again), `none` only labels and audits.
 * A keys file that cannot be used stops the start, naming the variable.
 */
describe('GitHub secret scanning with LEAK_ACTION', () => {
  let dir: string;
  let github: GithubKey;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'leak-action-'));
    github = githubKey('gh-key');
    writeGithubKeys(join(dir, 'keys.json'), [github]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function alert(t: TestApp, token: string): Promise<any> {
    const body = JSON.stringify([{ token, type: 'agk_test', url: 'https://github.com/o/r/blob/main/x', source: 'content' }]);
    const res = await t.http.request('POST', '/v1/leaks/github', undefined, { raw: body, headers: githubHeaders(github, body) });
    expect(res.status).toBe(200);
    return res.body;
  }

  describe('rotate', () => {
    let t: TestApp;
    let f: Fixtures;
    let agent: any;
    let product: any;

    beforeAll(async () => {
      t = await startTestApp({ env: { GITHUB_SECRET_SCANNING_KEYS_FILE: join(dir, 'keys.json'), LEAK_ACTION: 'rotate' } });
      f = new Fixtures(t);
      ({ agent, product } = await f.world());
    });
    afterAll(() => t.close());

    const issue = async () => {
      const issued = await f.credential(agent.id, [`${product.name}:read`], { environment: 'sandbox' });
      return { id: issued.credential.id as string, secret: issued.secret! };
    };

    it('rotates a credential whose current secret GitHub found, at once', async () => {
      const { id, secret } = await issue();
      expect(await alert(t, secret)).toEqual([{ token_hash: sha256(secret), token_type: 'agk_test', label: 'true_positive' }]);
      const [event] = (await t.http.get(`/v1/audit-events?targetId=${sha256(secret)}&action=leak.reported`, t.adminToken)).body.items;
      expect(event.data).toMatchObject({ requestedAction: 'rotate', actionTaken: 'rotated', credentialId: id });
      const rotation = (await t.http.get(`/v1/rotations/${event.data.rotationId}`, t.adminToken)).body;
      expect(rotation).toMatchObject({ credentialId: id, immediate: true, fromVersion: 1 });
      await eventually(async () => (await t.http.get(`/v1/credentials/${id}`, t.adminToken)).body.secretVersion === 2, 20_000, 'rotated');
      expect((await t.http.get(`/v1/credentials/${id}`, t.adminToken)).body.status).toBe('active');
    });

    it('revokes instead when the leaked secret is the pending version of an unfinished rotation', async () => {
      const { id } = await issue();
      const pending = `agk_test_${'G'.repeat(43)}abcdef`;
      await t.dataSource.query(
        `INSERT INTO rotations (id, credential_id, owner_id, secret_store, secret_target, trigger, immediate, requested_by, step, status,
                                from_version, from_version_id, from_secret_sha256, to_version, new_version_id, new_secret_sha256, new_secret_ref,
                                attempts, error, next_attempt_at, started_at, published_at, failed_at, grace_ends_at, created_at, updated_at)
         SELECT gen_random_uuid(), id, owner_id, secret_store, '{}'::jsonb, 'manual', false, 'test', 'published', 'failed',
                1, secret_version_id, secret_sha256, 2, 'v2', $2, 'ref-v2', 3, 'store down', now(), now(), now(), now(), now() + interval '1 day', now(), now()
           FROM credentials WHERE id = $1`,
        [id, sha256(pending)],
      );
      expect(await alert(t, pending)).toEqual([{ token_hash: sha256(pending), token_type: 'agk_test', label: 'true_positive' }]);
      expect((await t.http.get(`/v1/credentials/${id}`, t.adminToken)).body.status).toBe('revoked');
      const [event] = (await t.http.get(`/v1/audit-events?targetId=${sha256(pending)}&action=leak.reported`, t.adminToken)).body.items;
      expect(event.data).toMatchObject({ requestedAction: 'rotate', actionTaken: 'revoked', versionState: 'pending', version: 2 });
    });
  });

  describe('none', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({ env: { GITHUB_SECRET_SCANNING_KEYS_FILE: join(dir, 'keys.json'), LEAK_ACTION: 'none' } });
    });
    afterAll(() => t.close());

    it('labels a valid version true_positive and leaves the credential alone', async () => {
      const f = new Fixtures(t);
      const { agent, product } = await f.world();
      const issued = await f.credential(agent.id, [`${product.name}:read`], { environment: 'sandbox' });
      expect(await alert(t, issued.secret!)).toEqual([
        { token_hash: sha256(issued.secret!), token_type: 'agk_test', label: 'true_positive' },
      ]);
      expect((await t.http.get(`/v1/credentials/${issued.credential.id}`, t.adminToken)).body).toMatchObject({
        status: 'active',
        secretVersion: 1,
      });
    });
  });

  it.each([
    ['a missing file', (file: string) => file + '.missing', 'cannot be read'],
    ['a file that is not JSON', (file: string) => (writeFileSync(file, 'nope'), file), 'is not JSON'],
    ['no keys', (file: string) => (writeFileSync(file, '{"public_keys":[]}'), file), 'public_keys must list at least one key'],
    [
      'a key that is not P-256',
      (file: string) => (
        writeFileSync(file, JSON.stringify({ public_keys: [{ key_identifier: 'k', key: 'not pem', is_current: true }] })),
        file
      ),
      'public_keys.0.key is not a PEM public key',
    ],
    [
      'a key on another curve',
      (file: string) => {
        const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
        writeFileSync(file, JSON.stringify({ public_keys: [{ key_identifier: 'k', key: p384, is_current: true }] }));
        return file;
      },
      'public_keys.0.key is not an ECDSA P-256 key',
    ],
  ])('refuses to start with %s, naming GITHUB_SECRET_SCANNING_KEYS_FILE', async (_what, prepare, message) => {
    const file = prepare(join(dir, `bad-${Math.random()}.json`));
    const database = await createTestDatabase();
    try {
      await expect(startTestApp({ database, env: { GITHUB_SECRET_SCANNING_KEYS_FILE: file } })).rejects.toThrow(
        new RegExp(`GITHUB_SECRET_SCANNING_KEYS_FILE .*${message.replace(/[.]/g, '\\.')}`),
      );
    } finally {
      await dropTestDatabase(database.name);
    }
  });
});
