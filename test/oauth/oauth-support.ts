import { randomUUID } from 'node:crypto';

import { exportJWK, generateKeyPair, type KeyLike, SignJWT } from 'jose';

import { Fixtures } from '../support/fixtures';
import type { HttpResult } from '../support/http';
import type { TestApp } from '../support/test-app';

/** An oauth_client credential with its secret. */
export interface OAuthClient {
  credential: any;
  secret: string;
  clientId: string;
}

export async function oauthClient(
  f: Fixtures,
  agentId: string,
  scopes: string[],
  overrides: Record<string, unknown> = {},
): Promise<OAuthClient> {
  const { credential, secret } = await f.credential(agentId, scopes, { type: 'oauth_client', ...overrides });
  return { credential, secret: secret!, clientId: credential.clientId };
}

/** POSTs a form body (application/x-www-form-urlencoded) to the app. */
export async function postForm(
  t: TestApp,
  path: string,
  params: Record<string, string | string[]>,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) form.append(k, one);
  const response = await fetch(t.baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: form.toString(),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, headers: response.headers, text, body: type.includes('json') && text ? JSON.parse(text) : text };
}

export function basic(clientId: string, secret: string): Record<string, string> {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return { authorization: `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}` };
}

export function tokenWithBasic(t: TestApp, client: OAuthClient, params: Record<string, string> = {}): Promise<HttpResult> {
  return postForm(t, '/oauth/token', { grant_type: 'client_credentials', ...params }, basic(client.clientId, client.secret));
}

export async function clientKeyPair(alg: 'ES256' | 'RS256' | 'PS256' | 'EdDSA' = 'ES256') {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const kid = `k-${randomUUID()}`;
  return { kid, alg, publicJwk: { ...(await exportJWK(publicKey)), kid, alg }, privateJwk: await exportJWK(privateKey), privateKey };
}

export async function assertion(
  t: TestApp,
  clientId: string,
  key: { kid: string; alg: string; privateKey: KeyLike },
  claims: { aud?: string; expInSeconds?: number; jti?: string; iss?: string; sub?: string } = {},
): Promise<string> {
  const now = Math.floor(t.clock.now().getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuer(claims.iss ?? clientId)
    .setSubject(claims.sub ?? clientId)
    .setAudience(claims.aud ?? `${t.config.oauth.issuer}/oauth/token`)
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.expInSeconds ?? 120))
    .setJti(claims.jti ?? randomUUID())
    .sign(key.privateKey);
}

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
