import { timingSafeEqual } from 'node:crypto';

import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  DescribeSecretCommandOutput,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { Logger } from '@nestjs/common';

import { ShutdownParticipant, ShutdownPhase, ShutdownStep } from '../common/shutdown/shutdown-step';
import type { AppConfig } from '../config/app-config';
import { callWithRetries, FailureVerdict, safeCode, transportFailure } from './remote-call';
import {
  SecretStore,
  SecretTarget,
  SecretVersionConflictError,
  SecretVersionIsCurrentError,
  SecretVersionNotFoundError,
  StoredSecretVersion,
  WriteSecretVersion,
} from './secret-store';

export type AwsStoreOptions = NonNullable<AppConfig['secretStores']['aws']>;

const CURRENT = 'AWSCURRENT';
const PENDING = 'AWSPENDING';

/** Client errors that are really "slow down": retried like 5xx. */
const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded']);

/** A VersionId is the ClientRequestToken that made it: 32-64 characters. */
const VERSION_ID = /^[A-Za-z0-9_-]{32,64}$/;

/** How many times a stage move re-reads the labels when another writer moved them meanwhile. */
const STAGE_RACE_ATTEMPTS = 3;

/**
 * AWS Secrets Manager. One secret per credential, named
 * `agents/<agentId>/<credentialId>` and tagged with the credential, agent,
 * owner and environment. Each version's VersionId is the write's
 * ClientRequestToken (the credential id for version 1, the rotation id after),
 * which is what makes a retried write a no-op instead of a second version.
 *
 * Versions follow Secrets Manager's rotation protocol: version 1 is created
 * AWSCURRENT; later versions are put as AWSPENDING; promote moves AWSCURRENT
 * to the pending version (Secrets Manager hands AWSPREVIOUS to the old one) and
 * drops AWSPENDING; retiring removes AWSPREVIOUS, leaving the version without
 * labels (deprecated, unreadable through this adapter, removed by AWS in time).
 * Revocation deletes the secret without recovery unless a recovery window is set.
 */
export class AwsSecretsManagerStore extends SecretStore implements ShutdownParticipant {
  readonly name = 'aws' as const;
  private readonly logger = new Logger(AwsSecretsManagerStore.name);
  private readonly client: SecretsManagerClient;

  constructor(private readonly options: AwsStoreOptions) {
    super();
    this.client = new SecretsManagerClient({
      region: options.region,
      endpoint: options.endpoint,
      credentials: options.credentials,
      // Retries are ours (callWithRetries), around whole idempotent steps rather than single requests.
      maxAttempts: 1,
      requestHandler: { requestTimeout: options.timeoutMs, connectionTimeout: options.timeoutMs, throwOnRequestTimeout: true },
    });
  }

  async writeVersion(input: WriteSecretVersion): Promise<StoredSecretVersion> {
    const { target, version, requestToken, secret } = input;
    const name = secretName(target);
    return this.call(async () => {
      if (version === 1) {
        try {
          const created = await this.client.send(
            new CreateSecretCommand({ Name: name, ClientRequestToken: requestToken, SecretString: secret, Tags: tagsOf(target) }),
          );
          return { ref: created.ARN!, versionId: created.VersionId ?? requestToken };
        } catch (error) {
          if (codeOf(error) !== 'ResourceExistsException') throw error;
        }
        // The secret exists: a retry of this very write (adopt it), or somebody else's (conflict).
        return this.adopt(name, requestToken, secret, version);
      }
      try {
        const put = await this.client.send(
          new PutSecretValueCommand({ SecretId: name, ClientRequestToken: requestToken, SecretString: secret, VersionStages: [PENDING] }),
        );
        return { ref: put.ARN!, versionId: put.VersionId ?? requestToken };
      } catch (error) {
        // Same token with another secret, or no secret / one being deleted to add a version to.
        const code = codeOf(error);
        if (code === 'ResourceExistsException' || code === 'ResourceNotFoundException' || code === 'InvalidRequestException') {
          throw new SecretVersionConflictError(this.name, version);
        }
        throw error;
      }
    });
  }

  async readVersion(target: SecretTarget, versionId: string): Promise<string> {
    if (!VERSION_ID.test(versionId)) throw new SecretVersionNotFoundError(this.name, versionId);
    const name = secretName(target);
    return this.call(async () => {
      try {
        const got = await this.client.send(new GetSecretValueCommand({ SecretId: name, VersionId: versionId }));
        // A version without labels was retired: it may linger at AWS, but it is gone for us.
        if (!got.VersionStages?.length || typeof got.SecretString !== 'string') {
          throw new SecretVersionNotFoundError(this.name, versionId);
        }
        return got.SecretString;
      } catch (error) {
        const code = codeOf(error);
        if (code === 'ResourceNotFoundException') throw new SecretVersionNotFoundError(this.name, versionId);
        if (code === 'InvalidRequestException' && (await this.isDeleted(name))) {
          throw new SecretVersionNotFoundError(this.name, versionId);
        }
        throw error;
      }
    });
  }

  /** finishSecret: the labels Secrets Manager reports decide which version loses AWSCURRENT, not the caller's hint. */
  async promoteVersion(target: SecretTarget, versionId: string, _previousVersionId: string | null): Promise<void> {
    if (!VERSION_ID.test(versionId)) throw new SecretVersionNotFoundError(this.name, versionId);
    const name = secretName(target);
    await this.call(() =>
      this.withStageRace(async () => {
        const stages = await this.stagesOf(name);
        const labels = stages?.[versionId];
        if (!stages || !labels) throw new SecretVersionNotFoundError(this.name, versionId);
        const current = versionWith(stages, CURRENT);
        if (current !== versionId) {
          await this.client.send(
            new UpdateSecretVersionStageCommand({
              SecretId: name,
              VersionStage: CURRENT,
              MoveToVersionId: versionId,
              RemoveFromVersionId: current,
            }),
          );
        }
        if (labels.includes(PENDING)) {
          await this.client.send(
            new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: PENDING, RemoveFromVersionId: versionId }),
          );
        }
      }),
    );
  }

  async destroyVersion(target: SecretTarget, versionId: string): Promise<void> {
    if (!VERSION_ID.test(versionId)) throw new SecretVersionNotFoundError(this.name, versionId);
    const name = secretName(target);
    await this.call(() =>
      this.withStageRace(async () => {
        const labels = (await this.stagesOf(name))?.[versionId];
        if (!labels) return; // no secret, being deleted, or already without labels
        if (labels.includes(CURRENT)) {
          // Secrets Manager cannot take AWSCURRENT away without giving it to another version.
          throw new SecretVersionIsCurrentError(this.name, versionId);
        }
        for (const label of labels) {
          await this.client.send(
            new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: label, RemoveFromVersionId: versionId }),
          );
        }
      }),
    );
  }

  async deleteAll(target: SecretTarget): Promise<void> {
    const name = secretName(target);
    const windowDays = this.options.recoveryWindowDays;
    await this.call(async () => {
      try {
        await this.client.send(
          new DeleteSecretCommand(
            windowDays ? { SecretId: name, RecoveryWindowInDays: windowDays } : { SecretId: name, ForceDeleteWithoutRecovery: true },
          ),
        );
      } catch (error) {
        const code = codeOf(error);
        if (code === 'ResourceNotFoundException') return;
        if (code === 'InvalidRequestException' && (await this.isDeleted(name))) return;
        throw error;
      }
    });
  }

  /** A cheap read: one page of at most one secret. */
  async checkHealth(): Promise<void> {
    await callWithRetries(
      this.name,
      { ...this.options, maxAttempts: 1 },
      (e) => this.judge(e),
      () => this.client.send(new ListSecretsCommand({ MaxResults: 1 })),
    );
  }

  /** Closes the SDK client's connections. */
  close(): void {
    this.client.destroy();
  }

  /** Closed with the other connections, once no request or job can call AWS any more. */
  shutdownSteps(): ShutdownStep[] {
    return [{ phase: ShutdownPhase.Connections, name: 'aws client', count: 1, close: async () => this.close() }];
  }

  private async adopt(name: string, requestToken: string, secret: string, version: number): Promise<StoredSecretVersion> {
    try {
      const got = await this.client.send(new GetSecretValueCommand({ SecretId: name, VersionId: requestToken }));
      if (typeof got.SecretString === 'string' && sameSecret(got.SecretString, secret)) {
        return { ref: got.ARN!, versionId: got.VersionId ?? requestToken };
      }
    } catch (error) {
      const code = codeOf(error);
      if (code !== 'ResourceNotFoundException' && code !== 'InvalidRequestException') throw error;
    }
    throw new SecretVersionConflictError(this.name, version);
  }

  /** VersionIdsToStages (labelled versions only); null when there is no secret or it awaits deletion. */
  private async stagesOf(name: string): Promise<Record<string, string[]> | null> {
    let described: DescribeSecretCommandOutput;
    try {
      described = await this.client.send(new DescribeSecretCommand({ SecretId: name }));
    } catch (error) {
      if (codeOf(error) === 'ResourceNotFoundException') return null;
      throw error;
    }
    return described.DeletedDate ? null : (described.VersionIdsToStages ?? {});
  }

  private async isDeleted(name: string): Promise<boolean> {
    try {
      return Boolean((await this.client.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate);
    } catch (error) {
      if (codeOf(error) === 'ResourceNotFoundException') return true;
      throw error;
    }
  }

  /** A label moved between our read and our update (InvalidParameter): read the labels again and redo. */
  private async withStageRace(step: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (codeOf(error) !== 'InvalidParameterException' || attempt >= STAGE_RACE_ATTEMPTS) throw error;
      }
    }
  }

  private call<T>(operation: () => Promise<T>): Promise<T> {
    return callWithRetries(
      this.name,
      this.options,
      (e) => this.judge(e),
      operation,
      (attempt, verdict) => this.logger.warn({ store: this.name, attempt, problem: verdict.detail }, 'retrying a Secrets Manager call'),
    );
  }

  /** Maps a failure to a 503 detail; null for our own domain errors, which pass through. */
  private judge(error: unknown): FailureVerdict | null {
    if (
      error instanceof SecretVersionNotFoundError ||
      error instanceof SecretVersionConflictError ||
      error instanceof SecretVersionIsCurrentError
    ) {
      return null;
    }
    const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
    const code = codeOf(error);
    if (typeof status !== 'number') {
      return transportFailure(error, this.options.timeoutMs) ?? { retryable: false, detail: `the AWS client failed (${safeCode(code)})` };
    }
    if (THROTTLING.has(code) || status === 429) return { retryable: true, detail: `throttled (${safeCode(code)})` };
    if (status >= 500) return { retryable: true, detail: `HTTP ${status} (${safeCode(code)})` };
    return { retryable: false, detail: `HTTP ${status} (${safeCode(code)})` };
  }
}

export function secretName(target: SecretTarget): string {
  return `agents/${target.agentId}/${target.credentialId}`;
}

function tagsOf(target: SecretTarget): Array<{ Key: string; Value: string }> {
  return [
    { Key: 'credential_id', Value: target.credentialId },
    { Key: 'agent_id', Value: target.agentId },
    { Key: 'owner_id', Value: target.ownerId },
    { Key: 'environment', Value: target.environment },
  ];
}

function versionWith(stages: Record<string, string[]>, label: string): string | undefined {
  return Object.entries(stages).find(([, labels]) => labels.includes(label))?.[0];
}

/** The error's type as Secrets Manager named it (`__type`), which the SDK puts in `name`. */
function codeOf(error: unknown): string {
  const e = error as { name?: unknown; Code?: unknown } | null;
  if (typeof e?.name === 'string' && e.name !== 'Error') return e.name;
  return typeof e?.Code === 'string' ? e.Code : '';
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
