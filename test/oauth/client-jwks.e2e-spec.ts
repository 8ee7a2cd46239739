import { generateKeyPairSync } from 'node:crypto';

import { exportJWK, generateKeyPair } from 'jose';

import { Fixtures } from '../support/fixtures';
import { startTestApp, TestApp } from '../support/test-app';
import { clientKeyPair, oauthClient } from './oauth-support';

/** PATCH /v1/credentials/:id { jwks }: registering an oauth_client's public keys for private_key_jwt. */
describe('PATCH /v1/credentials/:id { jwks }', () => {
  let t: TestApp;
  let f: Fixtures;
  let owner: any;
  let agent: any;
  let product: any;

  beforeAll(async () => {
    t = await startTestApp();
    f = new Fixtures(t);
    ({ owner, agent, product } = await f.world());
  });
  afterAll(() => t.close());

  const newClient = () => oauthClient(f, agent.id, [`${product.name}:read`]);

  it('registers and replaces the set; the audit event records kids and thumbprints, no key material', async () => {
    const client = await newClient();
    const first = await clientKeyPair('ES256');
    const r = await t.http.patch(
      `/v1/credentials/${client.credential.id}`,
      { jwks: { keys: [{ ...first.publicJwk, x5c: ['ignored'] }] } },
      f.admin,
    );
    expect(r.status).toBe(200);
    expect(r.body.jwks).toEqual({ keys: [first.publicJwk] });
    const second = await clientKeyPair('EdDSA');
    const replaced = await t.http.patch(`/v1/credentials/${client.credential.id}`, { jwks: { keys: [second.publicJwk] } }, f.admin);
    expect(replaced.body.jwks.keys.map((k: any) => k.kid)).toEqual([second.kid]);
    expect((await t.http.get(`/v1/credentials/${client.credential.id}`, f.admin)).body.jwks.keys[0].kid).toBe(second.kid);

    const audit = await t.http.get(`/v1/audit-events?action=credential.updated&targetId=${client.credential.id}`, f.admin);
    expect(audit.body.items).toHaveLength(2);
    expect(audit.body.items[0].data.jwks).toEqual([{ kid: second.kid, kty: 'OKP', alg: 'EdDSA', thumbprint: expect.any(String) }]);
    expect(audit.text).not.toContain(second.publicJwk.x as string);
    expect(audit.text).not.toContain(first.publicJwk.x as string);
  });

  it.each([
    ['a private key', async () => ({ keys: [{ ...(await clientKeyPair('ES256')).privateJwk }] }), 'jwks.keys[0].d'],
    ['an RSA private key', async () => ({ keys: [{ ...(await clientKeyPair('RS256')).privateJwk, alg: 'RS256' }] }), 'jwks.keys[0].d'],
    ['a symmetric key', async () => ({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }), 'jwks.keys[0].kty'],
    ['an HS256 algorithm', async () => ({ keys: [{ ...(await clientKeyPair('ES256')).publicJwk, alg: 'HS256' }] }), 'jwks.keys[0].alg'],
    [
      'an algorithm that does not fit the key',
      async () => ({ keys: [{ ...(await clientKeyPair('ES256')).publicJwk, alg: 'RS256' }] }),
      'jwks.keys[0].alg',
    ],
    ['a P-384 key', async () => ({ keys: [await exportJWK((await generateKeyPair('ES384')).publicKey)] }), 'jwks.keys[0].crv'],
    [
      'a 1024-bit RSA key',
      async () => ({ keys: [generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' })] }),
      'jwks.keys[0].n',
    ],
    ['a key that is not one', async () => ({ keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }] }), 'jwks.keys[0]'],
    ['no keys', async () => ({ keys: [] }), 'jwks.keys'],
    ['not a set', async () => ({ key: [] }), 'jwks.key'],
    [
      'duplicate kids',
      async () => {
        const k = await clientKeyPair('ES256');
        return { keys: [k.publicJwk, k.publicJwk] };
      },
      'jwks.keys[1].kid',
    ],
  ])('refuses %s with a 400 naming the field, and stores nothing', async (_what, jwks, field) => {
    const client = await newClient();
    const r = await t.http.patch(`/v1/credentials/${client.credential.id}`, { jwks: await jwks() }, f.admin);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body.errors.map((e: any) => e.field)).toContain(field);
    expect((await t.http.get(`/v1/credentials/${client.credential.id}`, f.admin)).body.jwks).toBeNull();
  });

  it('an api_key credential takes no JWK set (400 naming jwks); nor does a change awaiting approval', async () => {
    const apiKey = await f.credential(agent.id, [`${product.name}:read`]);
    const key = await clientKeyPair('ES256');
    const r = await t.http.patch(`/v1/credentials/${apiKey.credential.id}`, { jwks: { keys: [key.publicJwk] } }, f.admin);
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([{ field: 'jwks', message: expect.stringContaining('oauth_client') }]);
    const client = await newClient();
    const mixed = await t.http.patch(
      `/v1/credentials/${client.credential.id}`,
      { scopes: [`${product.name}:read`, `${product.name}:delete`], jwks: { keys: [key.publicJwk] } },
      f.admin,
    );
    expect(mixed.status).toBe(400);
    expect(mixed.body.errors[0].field).toBe('jwks');
  });

  it('roles: admin and the owning owner may; another owner, responder and auditor may not; no token is 401', async () => {
    const client = await newClient();
    const key = await clientKeyPair('ES256');
    const body = { jwks: { keys: [key.publicJwk] } };
    const tokens = {
      ownerA: await f.token('owner', owner.id),
      ownerB: await f.token('owner', (await f.owner()).id),
      responder: await f.token('responder'),
      auditor: await f.token('auditor'),
    };
    expect((await t.http.patch(`/v1/credentials/${client.credential.id}`, body, tokens.ownerA.token)).status).toBe(200);
    expect((await t.http.patch(`/v1/credentials/${client.credential.id}`, body, tokens.ownerB.token)).status).toBe(403);
    expect((await t.http.patch(`/v1/credentials/${client.credential.id}`, body, tokens.responder.token)).status).toBe(403);
    expect((await t.http.patch(`/v1/credentials/${client.credential.id}`, body, tokens.auditor.token)).status).toBe(403);
    expect((await t.http.patch(`/v1/credentials/${client.credential.id}`, body)).status).toBe(401);
  });
});
