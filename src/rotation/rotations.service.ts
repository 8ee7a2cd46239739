import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { Actor, assertMayRespond, assertOwnerRead, RequestContext } from '../auth/actor';
import { Clock, HOUR_MS } from '../common/clock/clock';
import { AfterCommit } from '../common/db/after-commit';
import { isUniqueViolation } from '../common/db/pg-errors';
import { NotFoundError } from '../common/errors/domain-error';
import { Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import type { Credential } from '../inventory/credential';
import { targetOf } from '../inventory/credential-secrets.service';
import { CredentialsService } from '../inventory/credentials.service';
import { CredentialNotActiveError, CredentialRevokedError } from '../inventory/inventory-errors';
import type { RotationDto } from './dto/rotation.dto';
import { RotationEntity, RotationStatus } from './entities/rotation.entity';
import { RotationInProgressError, RotationNotFailedError } from './rotation-errors';
import { RotationEvents } from './rotation-events';
import { RotationMetrics } from './rotation-metrics';
import { RotationQueue } from './rotation-queue';
import { refOf } from './rotation-steps.service';
import { RotationsRepository } from './rotations.repository';

export interface RotateRequest {
  reason?: string;
  immediate?: boolean;
}

export interface RotationListQuery {
  status?: RotationStatus;
  limit?: number;
  cursor?: string;
}

/**
 * Rotations people ask for: a manual or emergency rotation of one credential,
 * the retry of a failed one, and the history and dead-letter lists. The
 * worker runs them (RotationRunnerService); this only records and enqueues.
 */
@Injectable()
export class RotationsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: RotationsRepository,
    private readonly credentials: CredentialsService,
    private readonly events: RotationEvents,
    private readonly queue: RotationQueue,
    private readonly afterCommit: AfterCommit,
    private readonly audit: AuditService,
    private readonly metrics: RotationMetrics,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /**
   * `POST /v1/credentials/:id/rotate`. 409 for a revoked credential or while
   * a rotation of it runs (the partial unique index settles races). When the
   * credential's last rotation failed, that rotation holds the next version
   * (Vault versions are consecutive, so it cannot be skipped): it is resumed
   * as this request, with its `immediate` and reason, rather than a new one.
   */
  async requestRotation(
    ctx: RequestContext,
    credentialId: string,
    input: RotateRequest,
  ): Promise<{ rotationId: string; resumed: boolean }> {
    try {
      return await this.dataSource.transaction((em) => this.requestRotationInTransaction(em, ctx, credentialId, input));
    } catch (error) {
      if (isUniqueViolation(error)) throw new RotationInProgressError();
      throw error;
    }
  }

  /**
   * requestRotation inside the caller's transaction (a leak report rotates in
   * the transaction that audits the report). A race with another rotation's
   * start surfaces as a unique violation when the caller commits or at the
   * insert: the caller maps it with `isUniqueViolation` to RotationInProgressError.
   */
  async requestRotationInTransaction(
    em: EntityManager,
    ctx: RequestContext,
    credentialId: string,
    input: RotateRequest,
  ): Promise<{ rotationId: string; resumed: boolean }> {
    const credential = await this.credentials.lockForChange(em, credentialId);
    assertMayRespond(ctx.actor, credential.ownerId, 'rotate', 'credential');
    if (credential.status === 'revoked') throw new CredentialRevokedError();
    if (credential.status !== 'active') throw new CredentialNotActiveError(credential.status);
    const running = await this.repository.runningOf(em, credentialId);
    if (running) throw new RotationInProgressError(running.id);
    const immediate = input.immediate ?? false;
    const reason = input.reason ?? null;
    const toVersion = credential.secretVersion! + 1;
    const failed = await this.repository.forVersion(em, credentialId, toVersion);
    const now = this.clock.now();
    let rotation: RotationEntity;
    if (failed) {
      rotation = await this.reopen(em, credential, failed, {
        immediate: immediate || failed.immediate,
        reason,
        requestedBy: ctx.actor.tokenId,
        trigger: 'manual',
      });
    } else {
      rotation = {
        id: this.random.uuid(),
        credentialId,
        ownerId: credential.ownerId,
        secretStore: credential.secretStore,
        secretTarget: targetOf(credential),
        trigger: 'manual',
        immediate,
        reason,
        requestedBy: ctx.actor.tokenId,
        step: 'pending',
        status: 'running',
        fromVersion: credential.secretVersion!,
        fromVersionId: credential.secretVersionId!,
        fromSecretSha256: credential.secretSha256,
        toVersion,
        newVersionId: null,
        newSecretSha256: null,
        newSecretRef: null,
        attempts: 0,
        error: null,
        nextAttemptAt: now,
        startedAt: now,
        publishedAt: null,
        completedAt: null,
        failedAt: null,
        graceEndsAt: null,
        retiredAt: null,
        createdAt: now,
        updatedAt: now,
      };
      await this.repository.insert(em, rotation);
    }
    await this.audit.record(em, ctx, {
      action: 'rotation.requested',
      targetType: 'credential',
      targetId: credentialId,
      data: {
        rotationId: rotation.id,
        immediate: rotation.immediate,
        reason,
        fromVersion: rotation.fromVersion,
        toVersion,
        ...(failed ? { resumedFailedRotation: true } : {}),
      },
    });
    const ref = refOf(rotation);
    this.afterCommit.run(em, async () => {
      this.metrics.rotationStarted(ref.secretStore, 'manual');
      await (failed ? this.queue.restartRotation(ref) : this.queue.addRotations([ref]));
    });
    return { rotationId: rotation.id, resumed: Boolean(failed) };
  }

  /** The credential and version number of a secret rotation wrote or replaced, by its SHA-256 (hex); null if none. */
  versionBySha256(em: EntityManager, sha256: string): Promise<{ credentialId: string; version: number } | null> {
    return this.repository.versionBySha256(em, sha256);
  }

  /**
   * SHA-256s (hex) of every version of these credentials that is valid
   * (`at`): each credential's current one, and those rotation keeps valid
   * beside it (a published new version, a replaced one in its grace period).
   * For recognising a credential's own secret by hash, in the caller's transaction.
   */
  async validSecretSha256s(
    em: EntityManager,
    credentials: Array<{ id: string; secretSha256: string | null }>,
    at: Date,
  ): Promise<Map<string, Set<string>>> {
    const valid = new Map(credentials.map((c) => [c.id, new Set(c.secretSha256 ? [c.secretSha256] : [])]));
    for (const row of await this.repository.validVersionSha256s(em, [...valid.keys()], at)) valid.get(row.credentialId)?.add(row.sha256);
    return valid;
  }

  /**
   * When the credential's latest `immediate` rotation (leak response) made its new version current,
   * or null: everything obtained with an earlier version before then (OAuth access tokens) no longer counts.
   */
  lastImmediateRotationAt(credentialId: string): Promise<Date | null> {
    return this.repository.lastImmediateCompletion(credentialId);
  }

  /** `POST /v1/rotations/:id/retry`: a failed rotation runs again from the step it reached. */
  async retry(ctx: RequestContext, rotationId: string): Promise<RotationDto> {
    const found = await this.repository.find(rotationId);
    if (!found) throw new NotFoundError('rotation', rotationId);
    try {
      return await this.dataSource.transaction(async (em) => {
        // The credential first, then the rotation: the order the worker takes them in.
        const credential = await this.credentials.lockForChange(em, found.credentialId);
        const rotation = (await this.repository.lock(em, rotationId))!;
        if (rotation.status === 'running') throw new RotationInProgressError(rotation.id);
        if (rotation.status !== 'failed') throw new RotationNotFailedError(rotation.status);
        if (credential.status === 'revoked') throw new CredentialRevokedError();
        if (credential.status !== 'active') throw new CredentialNotActiveError(credential.status);
        const reopened = await this.reopen(em, credential, rotation, {});
        await this.audit.record(em, ctx, {
          action: 'rotation.retried',
          targetType: 'credential',
          targetId: rotation.credentialId,
          data: { rotationId, step: rotation.step, previousError: rotation.error, previousAttempts: rotation.attempts },
        });
        const ref = refOf(reopened);
        this.afterCommit.run(em, () => this.queue.restartRotation(ref));
        return toRotationView(reopened);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new RotationInProgressError();
      throw error;
    }
  }

  async get(actor: Actor, rotationId: string): Promise<RotationDto> {
    const rotation = await this.repository.find(rotationId);
    if (!rotation) throw new NotFoundError('rotation', rotationId);
    assertOwnerRead(actor, rotation.ownerId, 'rotation');
    return toRotationView(rotation);
  }

  /** `GET /v1/credentials/:id/rotations`, newest first. */
  async history(actor: Actor, credentialId: string, query: { limit?: number; cursor?: string }): Promise<Page<RotationDto>> {
    await this.credentials.get(actor, credentialId); // 404 for an unknown credential, 403 for another owner's
    const page = await this.repository.list({ ...query, credentialId });
    return { items: page.items.map(toRotationView), nextCursor: page.nextCursor };
  }

  /** `GET /v1/rotations?status=failed`: the dead letters (or any status), newest first. */
  async list(query: RotationListQuery): Promise<Page<RotationDto>> {
    const page = await this.repository.list(query);
    return { items: page.items.map(toRotationView), nextCursor: page.nextCursor };
  }

  /**
   * Sets a failed rotation running again from its step, with fresh tries. If
   * it had already told the gateways about its new version, the grace period
   * it announced may have run out while it waited: it starts again now, and
   * `credential.rotated` is published again with the new end.
   */
  private async reopen(
    em: EntityManager,
    credential: Credential,
    rotation: RotationEntity,
    changes: Partial<Pick<RotationEntity, 'immediate' | 'reason' | 'requestedBy' | 'trigger'>>,
  ): Promise<RotationEntity> {
    const at = this.clock.now();
    const immediate = changes.immediate ?? rotation.immediate;
    const announced = rotation.step === 'published' || rotation.step === 'verified';
    const graceEndsAt = announced ? new Date(at.getTime() + (immediate ? 0 : credential.gracePeriodHours * HOUR_MS)) : rotation.graceEndsAt;
    if (!(await this.repository.reopen(em, rotation.id, { ...changes, graceEndsAt }, at)))
      throw new RotationNotFailedError(rotation.status);
    const reopened: RotationEntity = {
      ...rotation,
      ...changes,
      graceEndsAt,
      status: 'running',
      attempts: 0,
      error: null,
      failedAt: null,
      nextAttemptAt: at,
      updatedAt: at,
    };
    if (announced) {
      await this.events.rotated(em, credential, reopened, {
        newSecretSha256: reopened.newSecretSha256!,
        newSecretRef: reopened.newSecretRef!,
        graceEndsAt: graceEndsAt!,
      });
    }
    return reopened;
  }
}

export function toRotationView(rotation: RotationEntity): RotationDto {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    id: rotation.id,
    credentialId: rotation.credentialId,
    step: rotation.step,
    status: rotation.status,
    trigger: rotation.trigger,
    immediate: rotation.immediate,
    reason: rotation.reason,
    requestedBy: rotation.requestedBy,
    secretStore: rotation.secretStore,
    fromVersion: rotation.fromVersion,
    toVersion: rotation.toVersion,
    attempts: rotation.attempts,
    error: rotation.error,
    startedAt: new Date(rotation.startedAt).toISOString(),
    publishedAt: iso(rotation.publishedAt),
    completedAt: iso(rotation.completedAt),
    failedAt: iso(rotation.failedAt),
    graceEndsAt: iso(rotation.graceEndsAt),
    retiredAt: iso(rotation.retiredAt),
    nextAttemptAt: rotation.status === 'running' ? iso(rotation.nextAttemptAt) : null,
  };
}
