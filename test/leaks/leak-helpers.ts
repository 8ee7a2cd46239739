import { createHash, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A P-256 key pair standing in for one of GitHub's secret scanning keys. */
export interface GithubKey {
  identifier: string;
  privateKey: KeyObject;
  publicPem: string;
}

export function githubKey(identifier: string): GithubKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { identifier, privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Writes the keys file as GitHub publishes it. */
export function writeGithubKeys(file: string, keys: GithubKey[]): void {
  writeFileSync(
    file,
    JSON.stringify({ public_keys: keys.map((k, i) => ({ key_identifier: k.identifier, key: k.publicPem, is_current: i === 0 })) }),
  );
}

/** GitHub's headers for a body: base64 DER ECDSA P-256 SHA-256 over the exact bytes. */
export function githubHeaders(key: GithubKey, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'github-public-key-identifier': key.identifier,
    'github-public-key-signature': sign('sha256', Buffer.from(body, 'utf8'), { key: key.privateKey, dsaEncoding: 'der' }).toString(
      'base64',
    ),
  };
}
