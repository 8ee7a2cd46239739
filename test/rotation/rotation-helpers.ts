import { createHash } from 'node:crypto';

import type { DataSource } from 'typeorm';

import { RotationSweeperService as RotationSweeper, RotationSweepResult } from '../../src/rotation/rotation-sweeper.service';
import type { SecretTarget } from '../../src/secret-stores/secret-store';
import { SecretStoreRegistry } from '../../src/secret-stores/secret-store.registry';
import type { AwsSecretsManagerDouble } from '../doubles/aws-secrets-manager-double';
import type { VaultDouble } from '../doubles/vault-double';
import { eventually, GatewayReceiver } from '../support/gateway-receiver';
import type { TestApp } from '../support/test-app';

export const DAY = 24 * 60 * 60 * 1000;
export const HOUR = 60 * 60 * 1000;

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export function sweep(t: TestApp): Promise<RotationSweepResult> {
  return t.app.get(RotationSweeper).sweep();
}

export interface RotationRow {
  id: string;
  credential_id: string;
  step: string;
  status: string;
  from_version: number;
  to_version: number;
  new_version_id: string | null;
  new_secret_sha256: string | null;
  error: string | null;
  attempts: number;
  grace_ends_at: Date | null;
  retired_at: Date | null;
  secret_store: string;
}

export async function rotationsOf(db: DataSource, credentialIds: string[]): Promise<RotationRow[]> {
  return db.query('SELECT * FROM rotations WHERE credential_id = ANY ($1::uuid[]) ORDER BY created_at, to_version', [credentialIds]);
}

export interface CredentialRow {
  id: string;
  status: string;
  secret_store: 'local' | 'vault' | 'aws';
  secret_version: number;
  secret_version_id: string;
  secret_sha256: string;
  agent_id: string;
  owner_id: string;
  environment: 'sandbox' | 'production';
  last_rotated_at: Date | null;
  next_rotation_at: Date | null;
}

export async function credentialRows(db: DataSource, ids: string[]): Promise<CredentialRow[]> {
  return db.query('SELECT * FROM credentials WHERE id = ANY ($1::uuid[]) ORDER BY id', [ids]);
}

export function targetOfRow(row: CredentialRow): SecretTarget {
  return { credentialId: row.id, agentId: row.agent_id, ownerId: row.owner_id, environment: row.environment };
}

/** Waits until every rotation of these credentials satisfies `done` (and there is at least one per credential). */
export async function waitForRotations(
  db: DataSource,
  credentialIds: string[],
  done: (rows: RotationRow[]) => boolean,
  timeoutMs = 30_000,
  what = 'rotations',
): Promise<RotationRow[]> {
  const rows = await eventually(
    async () => {
      const current = await rotationsOf(db, credentialIds);
      return done(current) ? current : null;
    },
    timeoutMs,
    what,
  );
  return rows!;
}

export const allCompleted =
  (ids: string[], perCredential = 1) =>
  (rows: RotationRow[]) =>
    rows.length === ids.length * perCredential && rows.every((r) => r.status === 'completed');

/** Reads the current version of each credential from its store (through the app's adapters) and checks it against the row. */
export async function expectStoreServesCurrent(t: TestApp, rows: CredentialRow[]): Promise<void> {
  const registry = t.app.get(SecretStoreRegistry);
  for (const row of rows) {
    const secret = await registry.get(row.secret_store).readVersion(targetOfRow(row), row.secret_version_id);
    if (sha256(secret) !== row.secret_sha256)
      throw new Error(`credential ${row.id}: the store's version ${row.secret_version} does not match the row`);
  }
}

/** The versions of a credential's secret its store still serves, whatever the store. */
export async function liveVersions(
  t: TestApp,
  row: CredentialRow,
  doubles: { vault?: VaultDouble; aws?: AwsSecretsManagerDouble },
): Promise<Array<{ id: string; current: boolean; sha256: string }>> {
  if (row.secret_store === 'local') {
    const rows: Array<{ version: number; state: string }> = await t.dataSource.query(
      'SELECT version, state FROM local_secret_versions WHERE credential_id = $1 AND ciphertext IS NOT NULL ORDER BY version',
      [row.id],
    );
    const registry = t.app.get(SecretStoreRegistry);
    const out = [];
    for (const r of rows) {
      const secret = await registry.get('local').readVersion(targetOfRow(row), String(r.version));
      out.push({ id: String(r.version), current: r.state === 'current', sha256: sha256(secret) });
    }
    return out;
  }
  if (row.secret_store === 'vault') {
    const key = doubles.vault!.key(`agents/${row.agent_id}/${row.id}`);
    if (!key) return [];
    const current = key.customMetadata?.current_version;
    return [...key.versions.entries()]
      .filter(([, v]) => !v.destroyed && !v.deletionTime && v.data)
      .map(([n, v]) => ({ id: String(n), current: String(n) === current, sha256: sha256(String(v.data!.secret)) }));
  }
  const secret = doubles.aws!.secret(`agents/${row.agent_id}/${row.id}`);
  if (!secret || secret.deletedDate !== undefined) return [];
  return [...secret.versions.entries()]
    .filter(([, v]) => v.stages.size > 0)
    .map(([id, v]) => ({ id, current: v.stages.has('AWSCURRENT'), sha256: sha256(String(v.value)) }));
}

/** Registers a gateway for both environments that acknowledges everything. */
export async function gatewayFor(t: TestApp, name = 'gw'): Promise<GatewayReceiver> {
  const receiver = await GatewayReceiver.start();
  const res = await t.http.post('/v1/gateways', { name, url: receiver.url, environments: ['production', 'sandbox'] }, t.adminToken);
  if (res.status !== 201) throw new Error(`gateway: ${res.status} ${res.text}`);
  return receiver;
}

/** The event types a receiver acknowledged for one credential, in the order it received them. */
export function eventTypes(receiver: GatewayReceiver, credentialId: string): string[] {
  return receiver
    .acknowledged()
    .filter((r) => r.json?.data?.credentialId === credentialId)
    .map((r) => r.json.type);
}
