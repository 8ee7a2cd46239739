import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

import { Logger } from '@nestjs/common';
import type NodeVault from 'node-vault';
import nodeVault from 'node-vault';

import { Clock } from '../common/clock/clock';
import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import type { AppConfig } from '../config/app-config';
import { callWithRetries, FailureVerdict, transportFailure } from './remote-call';
import {
  SecretStore,
  SecretTarget,
  SecretVersionConflictError,
  SecretVersionNotFoundError,
  StoredSecretVersion,
  WriteSecretVersion,
} from './secret-store';
import { VaultTokenKeeper } from './vault-token';

export type VaultStoreOptions = NonNullable<AppConfig['secretStores']['vault']>;

interface VaultVersionMetadata {
  created_time?: string;
  deletion_time?: string;
  destroyed?: boolean;
}

interface VaultKeyMetadata {
  current_version?: number;
  custom_metadata?: Record<string, string> | null;
  versions?: Record<string, VaultVersionMetadata>;
}

/** Vault's answer when a write's `cas` is not the key's current version. */
const CAS_MISMATCH = /check-and-set parameter did not match/;

/**
 * HashiCorp Vault, KV secrets engine v2. Each credential is one key,
 * `<mount>/data/agents/<agentId>/<credentialId>`; our version N is KV version N.
 *
 * - Every write uses check-and-set `cas: N-1`, so a retried or concurrent
 *   write of version N can never make version N+1; on a CAS mismatch the
 *   stored version N is read and compared (same secret: success, else conflict).
 * - KV v2 always serves its newest version as "latest", so the version agents
 *   must use is named in the key's custom_metadata `current_version`, which
 *   only promoteVersion moves. custom_metadata also carries the credential,
 *   agent, owner and environment; `max_versions` keeps the previous version
 *   through its grace period and `cas_required` refuses blind writes.
 * - destroyVersion destroys that version's data; deleteAll destroys every
 *   version and then deletes the key's metadata.
 */
export class VaultSecretStore extends SecretStore implements ShutdownParticipant {
  readonly name = 'vault' as const;
  private readonly logger = new Logger(VaultSecretStore.name);
  private readonly client: NodeVault.client;
  private readonly tokens: VaultTokenKeeper;
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(
    private readonly options: VaultStoreOptions,
    clock: Clock,
  ) {
    super();
    this.agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
    this.client = nodeVault({
      apiVersion: 'v1',
      endpoint: options.address,
      namespace: options.namespace,
      noCustomHTTPVerbs: true,
      requestOptions: { timeout: options.timeoutMs, httpAgent: this.agents.http, httpsAgent: this.agents.https },
    });
    this.tokens = new VaultTokenKeeper(this.client, { token: options.token, roleId: options.roleId, secretId: options.secretId }, clock);
  }

  async writeVersion(input: WriteSecretVersion): Promise<StoredSecretVersion> {
    const { target, version, secret } = input;
    await this.call(async () => {
      try {
        await this.client.write(this.path('data', target), { options: { cas: version - 1 }, data: { secret } });
      } catch (error) {
        if (!CAS_MISMATCH.test(errorText(error))) throw error;
        // Version N exists already (a retry, or a concurrent writer): adopt it only if it holds this secret.
        const stored = await this.readSecret(target, version);
        if (stored === null || !sameSecret(stored, secret)) throw new SecretVersionConflictError(this.name, version);
        // A late retry of the first write must not move current_version back from a promoted rotation.
        if (version === 1 && (await this.readMetadata(target))?.custom_metadata?.current_version) return;
      }
      if (version === 1) await this.writeMetadata(target, 1);
    });
    return { ref: this.refOf(target), versionId: String(version) };
  }

  async readVersion(target: SecretTarget, versionId: string): Promise<string> {
    const version = parseVersion(versionId);
    const secret = await this.call(() => this.readSecret(target, version));
    if (secret === null) throw new SecretVersionNotFoundError(this.name, versionId);
    return secret;
  }

  async promoteVersion(target: SecretTarget, versionId: string, _previousVersionId: string | null): Promise<void> {
    const version = parseVersion(versionId);
    await this.call(async () => {
      const metadata = await this.readMetadata(target);
      const entry = metadata?.versions?.[String(version)];
      if (!metadata || !entry || entry.destroyed || entry.deletion_time) {
        throw new SecretVersionNotFoundError(this.name, versionId);
      }
      if (metadata.custom_metadata?.current_version === String(version)) return;
      await this.writeMetadata(target, version);
    });
  }

  async destroyVersion(target: SecretTarget, versionId: string): Promise<void> {
    const version = parseVersion(versionId);
    // Vault answers 204 for a missing key or version too, so a retry is harmless.
    await this.call(() => this.client.write(this.path('destroy', target), { versions: [version] }));
  }

  async deleteAll(target: SecretTarget): Promise<void> {
    await this.call(async () => {
      const metadata = await this.readMetadata(target);
      if (!metadata) return;
      const live = Object.entries(metadata.versions ?? {})
        .filter(([, v]) => !v.destroyed)
        .map(([n]) => Number(n));
      // Destroy first, so the data is gone even if the metadata delete is lost and never retried.
      if (live.length > 0) await this.client.write(this.path('destroy', target), { versions: live });
      await this.client.delete(this.path('metadata', target));
    });
  }

  async checkHealth(): Promise<void> {
    await callWithRetries(
      this.name,
      { ...this.options, maxAttempts: 1 },
      (e) => this.judge(e),
      async () => {
        // node-vault resolves sys/health with the body whatever the status (sealed is 503).
        const health = (await this.client.health()) as { initialized?: boolean; sealed?: boolean };
        if (health?.sealed === true) throw new VaultHealthError('sealed');
        if (health?.initialized !== true) throw new VaultHealthError('not initialised or not answering sys/health');
      },
    );
  }

  /** Stops token renewal and closes the connections to Vault. */
  close(): void {
    this.tokens.close();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** Closed with the other connections, once no request or job can call Vault any more. */
  shutdownSteps(): ShutdownStep[] {
    return [{ phase: ShutdownPhase.Connections, name: 'vault client', count: 1, close: async () => this.close() }];
  }

  /** Where the secret lives, as an agent's runtime addresses it (the namespace may prefix the path). */
  private refOf(target: SecretTarget): string {
    const ns = this.options.namespace ? `${this.options.namespace.replace(/\/+$/, '')}/` : '';
    return `${ns}${this.path('data', target)}`;
  }

  private path(kind: 'data' | 'metadata' | 'destroy', target: SecretTarget): string {
    return `${this.options.mount}/${kind}/agents/${target.agentId}/${target.credentialId}`;
  }

  /** The secret of one version, or null when Vault has no such version or it was deleted or destroyed. */
  private async readSecret(target: SecretTarget, version: number): Promise<string | null> {
    try {
      const answer = (await this.client.read(`${this.path('data', target)}?version=${version}`)) as {
        data?: { data?: { secret?: unknown } | null };
      };
      const secret = answer?.data?.data?.secret;
      return typeof secret === 'string' ? secret : null;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  private async readMetadata(target: SecretTarget): Promise<VaultKeyMetadata | null> {
    try {
      const answer = (await this.client.read(this.path('metadata', target))) as { data?: VaultKeyMetadata };
      return answer?.data ?? null;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** Sets the key's settings and custom_metadata (which Vault replaces whole, so all of it every time). */
  private async writeMetadata(target: SecretTarget, currentVersion: number): Promise<void> {
    await this.client.write(this.path('metadata', target), {
      max_versions: this.options.maxVersions,
      cas_required: true,
      custom_metadata: {
        credential_id: target.credentialId,
        agent_id: target.agentId,
        owner_id: target.ownerId,
        environment: target.environment,
        current_version: String(currentVersion),
      },
    });
  }

  /**
   * One operation: the token made valid first, retries for transient failures,
   * and one fresh AppRole login when Vault says our token is no longer good.
   */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    let relogged = false;
    return callWithRetries(
      this.name,
      this.options,
      (e) => this.judge(e),
      async () => {
        await this.tokens.ensure();
        try {
          return await operation();
        } catch (error) {
          if (statusOf(error) === 403 && !relogged && (await this.tokens.recover())) {
            relogged = true;
            return operation();
          }
          throw error;
        }
      },
      (attempt, verdict) => this.logger.warn({ store: this.name, attempt, problem: verdict.detail }, 'retrying a Vault call'),
    );
  }

  /** Maps a failure to a 503 detail; null for our own domain errors, which pass through. */
  private judge(error: unknown): FailureVerdict | null {
    if (error instanceof SecretVersionNotFoundError || error instanceof SecretVersionConflictError) return null;
    if (error instanceof VaultHealthError) return { retryable: false, detail: error.message };
    const status = statusOf(error);
    if (status === undefined) {
      return transportFailure(error, this.options.timeoutMs) ?? { retryable: false, detail: 'the Vault client failed' };
    }
    if (status === 503) return { retryable: false, detail: 'sealed or in maintenance (HTTP 503)' };
    if (status === 403) {
      return { retryable: false, detail: 'permission denied (HTTP 403): check VAULT_TOKEN or the AppRole and its policy' };
    }
    if (status === 400 && errorText(error).includes('invalid role or secret ID')) {
      return { retryable: false, detail: 'AppRole login refused: check VAULT_ROLE_ID and VAULT_SECRET_ID' };
    }
    if (status === 404) return { retryable: false, detail: `no KV v2 engine answers at mount ${this.options.mount} (HTTP 404)` };
    if (status === 429 || status >= 500) return { retryable: true, detail: `HTTP ${status}` };
    return { retryable: false, detail: `HTTP ${status}` };
  }
}

/** sys/health said no; not retried, reported as it is. */
class VaultHealthError extends Error {}

function statusOf(error: unknown): number | undefined {
  const status = (error as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Vault's error strings, for matching only: never copied into our own messages. */
function errorText(error: unknown): string {
  const errors = (error as { response?: { body?: { errors?: unknown } } } | null)?.response?.body?.errors;
  return Array.isArray(errors) ? errors.filter((e) => typeof e === 'string').join('\n') : '';
}

/**
 * A 404 for a missing key or version: `{"errors":[]}`, or for a deleted or
 * destroyed version the success-shaped body with `data.data: null`. A 404 with
 * an error string ("no handler for route") means a wrong mount, not a missing secret.
 */
function isNotFound(error: unknown): boolean {
  if (statusOf(error) !== 404) return false;
  const body = (error as { response?: { body?: { errors?: unknown; data?: unknown } } }).response?.body;
  return !Array.isArray(body?.errors) || body.errors.length === 0;
}

function parseVersion(versionId: string): number {
  const version = Number(versionId);
  if (!/^[0-9]+$/.test(versionId) || !Number.isSafeInteger(version) || version < 1) {
    throw new SecretVersionNotFoundError('vault', versionId);
  }
  return version;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
