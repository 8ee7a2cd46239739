import { timingSafeEqual } from 'node:crypto';

import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { RequestContext, systemContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { RandomSource, randomUnit } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { formatSecret, SECRET_RANDOM_BYTES } from '../inventory/credential-secret';
import { sha256 } from '../inventory/credential-secrets.service';
import { CredentialsService } from '../inventory/credentials.service';
import {
  SecretStore,
  SecretVersionConflictError,
  SecretVersionIsCurrentError,
  SecretVersionNotFoundError,
} from '../secret-stores/secret-store';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';
import { RotationEntity } from './entities/rotation.entity';
import { CredentialMoved, RevokedDuringRotation, StepAlreadyTaken, VerificationMismatch } from './rotation-errors';
import { RotationEvents } from './rotation-events';
import { RotationMetrics } from './rotation-metrics';
import { expectedVersionId, rotationBackoffMs } from './rotation-policy';
import { PromoteResult, PublishResult, RotationStepsService } from './rotation-steps.service';
import { RotationsRepository } from './rotations.repository';

/** What one run of a rotate job came to; the processor turns it into BullMQ's terms. */
export type RotateOutcome =
  | { kind: 'completed' }
  | { kind: 'skipped' }
  | { kind: 'cancelled' }
  | { kind: 'retry'; delayMs: number; error: string }
  | { kind: 'failed'; error: string };

export type RetireOutcome = 'retired' | 'skipped' | 'not_due';

const WORKER = 'rotation-worker';

/** A run follows at most this many steps before it lets the job end (each step records itself; a rerun carries on). */
const MAX_STEPS_PER_RUN = 8;

/**
 * The rotation step machine (docs/architecture.md "The life of a rotation"). Each step
 * does its external work first (idempotently: the store write is keyed by
 * the rotation id and version), then records its outcome and moves `step` in
 * one transaction with the credential row locked (RotationStepsService, which
 * group-commits the steps of concurrent jobs), so a crash anywhere resumes at
 * the recorded step and no step is recorded twice:
 *
 * - pending → published: a new secret is written to the store as a pending
 *   version (a conflict means an earlier run wrote it before crashing: that
 *   secret is read back and adopted); then `credential.rotated` goes to the
 *   outbox with the new hash and `graceEndsAt`.
 * - published → verified: the version is read back and its hash compared.
 * - verified → promoted: the store makes it current, then the credential row does.
 * - promoted → retired: a delayed job at `graceEndsAt` destroys the previous
 *   version and publishes `credential.version_retired`.
 *
 * A revocation wins: every transaction that moves a step checks the
 * credential under its row lock (the lock revocation takes too), so nothing
 * is published after `credential.revoked`; the rotation stops and destroys
 * the version it wrote.
 */
@Injectable()
export class RotationRunnerService {
  private readonly logger = new Logger(RotationRunnerService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: RotationsRepository,
    private readonly credentials: CredentialsService,
    private readonly stores: SecretStoreRegistry,
    private readonly events: RotationEvents,
    private readonly steps: RotationStepsService,
    private readonly audit: AuditService,
    private readonly metrics: RotationMetrics,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
  ) {}

  /** Runs a rotation from its recorded step up to promotion. */
  async rotate(rotationId: string, requestId: string): Promise<RotateOutcome> {
    const ctx = systemContext(WORKER, requestId);
    const runStarted = performance.now();
    let rotation = await this.steps.load(rotationId);
    if (rotation?.status !== 'running') return { kind: 'skipped' };
    for (let steps = 0; rotation?.status === 'running' && steps < MAX_STEPS_PER_RUN; steps++) {
      const store = this.stores.get(rotation.secretStore);
      try {
        if (rotation.step === 'pending') await this.writeAndPublish(rotation, store, requestId);
        else if (rotation.step === 'published') await this.verify(rotation, store);
        else if (rotation.step === 'verified') await this.promote(rotation, store, requestId);
        else return { kind: 'skipped' };
      } catch (error) {
        if (error instanceof StepAlreadyTaken) {
          rotation = await this.steps.load(rotationId);
          continue;
        }
        return this.handleFailure(ctx, rotation, store, error);
      }
    }
    if (rotation?.status !== 'completed') return { kind: 'skipped' };
    this.metrics.ranToPromotion(rotation.secretStore, (performance.now() - runStarted) / 1000);
    return { kind: 'completed' };
  }

  /**
   * Retires a completed rotation's previous version once its grace period is
   * over: destroyed in the store first (once the row says retired, nothing
   * would destroy it again), then recorded with `credential.version_retired`.
   * Store failures throw, and the job retries.
   */
  async retire(rotationId: string, requestId: string): Promise<RetireOutcome> {
    const rotation = await this.steps.load(rotationId);
    if (!rotation || rotation.status !== 'completed' || rotation.retiredAt) return 'skipped';
    if (rotation.graceEndsAt && rotation.graceEndsAt.getTime() > this.clock.now().getTime()) return 'not_due';
    // For a revoked credential this is harmless: destroying what revocation already deleted succeeds.
    await this.stores.get(rotation.secretStore).destroyVersion(rotation.secretTarget, rotation.fromVersionId);
    if ((await this.steps.retire(rotation, requestId)).kind !== 'retired') return 'skipped';
    this.metrics.versionRetired(rotation.secretStore);
    return 'retired';
  }

  // ---- steps ---------------------------------------------------------------

  private async writeAndPublish(rotation: RotationEntity, store: SecretStore, requestId: string): Promise<void> {
    const written = await this.writePending(rotation, store);
    const result = await this.steps.publish(rotation, written, requestId);
    refuse(result, 'published');
    if (result.kind !== 'published') return;
    const { kind: _, ...outcome } = result;
    Object.assign(rotation, outcome, { step: 'published', publishedAt: this.clock.now() });
  }

  /**
   * Writes the new secret as the rotation's pending version. The secret only
   * ever exists in memory and in the store: if an earlier run of this
   * rotation wrote the version and crashed before recording it, the store
   * answers with a conflict and that secret is adopted, so the version is
   * written once, with one secret, whatever the number of runs.
   */
  private async writePending(
    rotation: RotationEntity,
    store: SecretStore,
  ): Promise<{ versionId: string; ref: string | null; sha256: string }> {
    const target = rotation.secretTarget;
    const secret = formatSecret(target.environment, this.random.bytes(SECRET_RANDOM_BYTES));
    try {
      const stored = await store.writeVersion({ target, version: rotation.toVersion, requestToken: rotation.id, secret });
      return { versionId: stored.versionId, ref: stored.ref, sha256: sha256(secret) };
    } catch (error) {
      if (!(error instanceof SecretVersionConflictError)) throw error;
      const versionId = expectedVersionId(store.name, rotation.toVersion, rotation.id);
      const adopted = await store.readVersion(target, versionId);
      return { versionId, ref: null, sha256: sha256(adopted) };
    }
  }

  private async verify(rotation: RotationEntity, store: SecretStore): Promise<void> {
    const secret = await store.readVersion(rotation.secretTarget, rotation.newVersionId!);
    if (!sameDigest(sha256(secret), rotation.newSecretSha256!)) throw new VerificationMismatch(rotation.toVersion);
    if (!(await this.steps.verified(rotation))) throw new StepAlreadyTaken('verified');
    rotation.step = 'verified';
  }

  private async promote(rotation: RotationEntity, store: SecretStore, requestId: string): Promise<void> {
    await store.promoteVersion(rotation.secretTarget, rotation.newVersionId!, rotation.fromVersionId);
    const result = await this.steps.promote(rotation, requestId);
    refuse(result, 'promoted');
    if (result.kind !== 'promoted') return;
    const at = this.clock.now();
    Object.assign(rotation, { step: 'promoted', status: 'completed', completedAt: at, error: null });
    this.metrics.completed(rotation.secretStore, (at.getTime() - rotation.startedAt.getTime()) / 1000);
    if (result.earlier)
      this.logger.log(
        { credentialId: rotation.credentialId, earlier: result.earlier },
        'immediate rotation: retiring every earlier version now',
      );
  }

  // ---- failure -------------------------------------------------------------

  private async handleFailure(ctx: RequestContext, rotation: RotationEntity, store: SecretStore, error: unknown): Promise<RotateOutcome> {
    if (error instanceof RevokedDuringRotation || (await this.isRevoked(rotation.credentialId))) {
      return this.stopForRevocation(ctx, rotation, store);
    }
    this.metrics.stepError(store.name, rotation.step);
    const attempts = rotation.attempts + 1;
    const message = describeFailure(rotation.step, error);
    if (error instanceof CredentialMoved || attempts >= this.config.rotation.maxAttempts) {
      await this.fail(ctx, rotation, attempts, message);
      return { kind: 'failed', error: message };
    }
    const delayMs = this.backoff(attempts);
    const at = this.clock.now();
    await this.repository.recordRetry(rotation.id, attempts, message, new Date(at.getTime() + delayMs), at);
    this.logger.warn(
      { rotationId: rotation.id, credentialId: rotation.credentialId, step: rotation.step, attempts, err: message },
      'rotation step failed; will retry',
    );
    return { kind: 'retry', delayMs, error: message };
  }

  /**
   * Out of tries: the rotation is `failed` at the step it reached and waits
   * for a person; the credential keeps its current secret. The gateways hear
   * `rotation.failed` (in order with the credential's other events).
   */
  private async fail(ctx: RequestContext, rotation: RotationEntity, attempts: number, message: string): Promise<void> {
    const failed = await this.dataSource.transaction(async (em) => {
      const credential = await this.credentials.lockForChange(em, rotation.credentialId);
      const at = this.clock.now();
      if (!(await this.repository.markFailed(em, rotation.id, attempts, message, at))) return false;
      if (credential.status !== 'revoked') await this.events.failed(em, credential, rotation, { attempts, error: message });
      await this.audit.record(em, ctx, {
        action: 'rotation.failed',
        targetType: 'credential',
        targetId: rotation.credentialId,
        data: {
          rotationId: rotation.id,
          step: rotation.step,
          attempts,
          error: message,
          fromVersion: rotation.fromVersion,
          toVersion: rotation.toVersion,
        },
      });
      return true;
    });
    if (!failed) return;
    this.metrics.failed(rotation.secretStore);
    this.logger.error(
      { rotationId: rotation.id, credentialId: rotation.credentialId, step: rotation.step, attempts, err: message },
      'rotation failed for good; the credential keeps its current secret; retry it with POST /v1/rotations/:id/retry',
    );
  }

  /**
   * The credential was revoked mid-rotation: destroy the version this
   * rotation may have written (revocation deletes the secret too, but our
   * write may have landed after that), then record the rotation as stopped.
   * If the store cannot destroy it now, the job tries again later.
   */
  private async stopForRevocation(ctx: RequestContext, rotation: RotationEntity, store: SecretStore): Promise<RotateOutcome> {
    const versionId = rotation.newVersionId ?? expectedVersionId(store.name, rotation.toVersion, rotation.id);
    try {
      await store.destroyVersion(rotation.secretTarget, versionId);
    } catch (error) {
      if (!(error instanceof SecretVersionNotFoundError) && !(error instanceof SecretVersionIsCurrentError)) {
        const message = `credential revoked; could not destroy the pending version yet: ${(error as Error).message}`;
        this.logger.warn({ rotationId: rotation.id, credentialId: rotation.credentialId, err: message }, 'will try again');
        return { kind: 'retry', delayMs: this.backoff(rotation.attempts + 1), error: message };
      }
    }
    const stopped = await this.dataSource.transaction(async (em) => {
      const at = this.clock.now();
      const message = 'CREDENTIAL_REVOKED: the credential was revoked during the rotation; the new version was destroyed';
      if (!(await this.repository.markFailed(em, rotation.id, rotation.attempts, message, at))) return false;
      await this.audit.record(em, ctx, {
        action: 'rotation.cancelled',
        targetType: 'credential',
        targetId: rotation.credentialId,
        data: { rotationId: rotation.id, step: rotation.step, reason: 'credential revoked', destroyedVersion: rotation.toVersion },
      });
      return true;
    });
    if (stopped) this.metrics.cancelled(rotation.secretStore);
    return { kind: 'cancelled' };
  }

  private async isRevoked(credentialId: string): Promise<boolean> {
    try {
      return (await this.credentials.find(credentialId)).status === 'revoked';
    } catch {
      return false;
    }
  }

  private backoff(failures: number): number {
    const { retryBaseMs, retryMaxMs } = this.config.rotation;
    return rotationBackoffMs(failures, retryBaseMs, retryMaxMs, randomUnit(this.random));
  }
}

/** Turns a step the database refused into the error the run handles. */
function refuse(result: PublishResult | PromoteResult, step: string): void {
  if (result.kind === 'revoked') throw new RevokedDuringRotation();
  if (result.kind === 'moved') throw new CredentialMoved(result.reason);
  if (result.kind === 'raced') throw new StepAlreadyTaken(step);
}

/** The failure in words for the row, the event and the audit log. Store errors name the store and the problem, never a secret. */
function describeFailure(step: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `at step ${step}: ${message}`.slice(0, 1000);
}

function sameDigest(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
