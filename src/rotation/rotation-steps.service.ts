import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditEntry, AuditService } from '../audit/audit.service';
import { RequestContext, systemContext } from '../auth/actor';
import { Clock, HOUR_MS } from '../common/clock/clock';
import { AfterCommit } from '../common/db/after-commit';
import { GroupCommit } from '../common/db/group-commit';
import { RandomSource } from '../common/random/random-source';
import { CredentialChangeNotifier } from '../enforcement/credential-change-notifier.service';
import type { Credential } from '../inventory/credential';
import { CredentialsService } from '../inventory/credentials.service';
import { RotationEntity } from './entities/rotation.entity';
import { RotationEvents } from './rotation-events';
import { RotationQueue } from './rotation-queue';
import { PublishedOutcome, RotationRef, RotationsRepository } from './rotations.repository';

/** Why a step was not recorded for a rotation: its credential was revoked, it is not where the rotation started, or another run recorded it first. */
export type StepRefusal = { kind: 'revoked' } | { kind: 'moved'; reason: string } | { kind: 'raced' };

export type PublishResult = ({ kind: 'published' } & PublishedOutcome) | StepRefusal;
export type PromoteResult = { kind: 'promoted'; graceEndsAt: Date; earlier: number } | StepRefusal;
export type RetireResult = { kind: 'retired' } | { kind: 'raced' };

interface PublishItem {
  rotation: RotationEntity;
  written: { versionId: string; ref: string | null; sha256: string };
  requestId: string;
}

interface StepItem {
  rotation: RotationEntity;
  requestId: string;
}

const WORKER = 'rotation-worker';
/** Rotations one step transaction records at most. */
const MAX_BATCH = 64;

/**
 * The database half of each rotation step, recorded with group commit: the
 * concurrent jobs of a worker that reach the same step together share one
 * transaction, which locks their credentials in id order, moves each
 * rotation's step only if it is still at the step it leaves, writes each
 * one's outbox event and appends all their audit events at once. Each
 * rotation still gets its own outcome: one revoked credential or one rotation
 * recorded by another run never stops the others.
 */
@Injectable()
export class RotationStepsService {
  private readonly loads = new GroupCommit<string, RotationEntity | null>((ids) => this.loadMany(ids), 256);
  private readonly publishes = new GroupCommit<PublishItem, PublishResult>((items) => this.publishMany(items), MAX_BATCH);
  private readonly verifications = new GroupCommit<string, boolean>((ids) => this.verifyMany(ids), MAX_BATCH);
  private readonly promotions = new GroupCommit<StepItem, PromoteResult>((items) => this.promoteMany(items), MAX_BATCH);
  private readonly retirements = new GroupCommit<StepItem, RetireResult>((items) => this.retireMany(items), MAX_BATCH);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: RotationsRepository,
    private readonly credentials: CredentialsService,
    private readonly events: RotationEvents,
    private readonly audit: AuditService,
    private readonly afterCommit: AfterCommit,
    private readonly queue: RotationQueue,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly credentialChanges: CredentialChangeNotifier,
  ) {}

  load(rotationId: string): Promise<RotationEntity | null> {
    return this.loads.submit(rotationId);
  }

  /** pending → published: the written version recorded, `credential.rotated` in the outbox, both versions valid until `graceEndsAt`. */
  publish(rotation: RotationEntity, written: PublishItem['written'], requestId: string): Promise<PublishResult> {
    return this.publishes.submit({ rotation, written, requestId });
  }

  /** published → verified; false when another run recorded it first. */
  verified(rotation: RotationEntity): Promise<boolean> {
    return this.verifications.submit(rotation.id);
  }

  /** verified → promoted: the credential's current version is the new one; its retirement is scheduled. */
  promote(rotation: RotationEntity, requestId: string): Promise<PromoteResult> {
    return this.promotions.submit({ rotation, requestId });
  }

  /** promoted → retired, with `credential.version_retired` (not for a revoked credential: nothing follows its revocation). */
  retire(rotation: RotationEntity, requestId: string): Promise<RetireResult> {
    return this.retirements.submit({ rotation, requestId });
  }

  private async loadMany(ids: string[]): Promise<Array<RotationEntity | null>> {
    const found = new Map((await this.repository.findMany([...new Set(ids)])).map((r) => [r.id, r]));
    // Each caller gets its own copy: the runner updates it as it goes.
    return ids.map((id) => (found.has(id) ? { ...found.get(id)! } : null));
  }

  private publishMany(items: PublishItem[]): Promise<PublishResult[]> {
    return this.dataSource.transaction(async (em) => {
      const at = this.clock.now();
      const locked = await this.lock(em, items);
      const results: PublishResult[] = items.map((item, i) => {
        // Another run of this rotation got through publication and promotion while this one wrote its version: it
        // has raced (the runner reloads the rotation and sees it completed), not found the credential moved on.
        if (alreadyPromoted(locked.get(item.rotation.credentialId), item.rotation)) return { kind: 'raced' };
        const refusal = refusalOf(locked.get(item.rotation.credentialId), item.rotation) ?? duplicateOf(items, i);
        if (refusal) return refusal;
        const credential = locked.get(item.rotation.credentialId)!;
        return {
          kind: 'published',
          newVersionId: item.written.versionId,
          newSecretSha256: item.written.sha256,
          newSecretRef: item.written.ref ?? credential.secretRef!,
          graceEndsAt: new Date(at.getTime() + (item.rotation.immediate ? 0 : credential.gracePeriodHours * HOUR_MS)),
        };
      });
      const eligible = items.flatMap((item, i) => {
        const result = results[i];
        return result.kind === 'published' ? [{ id: item.rotation.id, ...result }] : [];
      });
      const applied = eligible.length ? await this.repository.markPublishedMany(em, eligible, at) : new Set<string>();
      const audit: AuditEntry[] = [];
      const rotated: Parameters<RotationEvents['rotatedMany']>[1] = [];
      for (const [i, item] of items.entries()) {
        const result = results[i];
        if (result.kind !== 'published') continue;
        if (!applied.has(item.rotation.id)) {
          results[i] = { kind: 'raced' };
          continue;
        }
        rotated.push({ credential: locked.get(item.rotation.credentialId)!, rotation: item.rotation, version: result });
        audit.push({
          action: 'rotation.published',
          targetType: 'credential',
          targetId: item.rotation.credentialId,
          data: {
            rotationId: item.rotation.id,
            fromVersion: item.rotation.fromVersion,
            toVersion: item.rotation.toVersion,
            secretSha256: result.newSecretSha256,
            graceEndsAt: result.graceEndsAt.toISOString(),
            job: item.requestId,
          },
        });
      }
      await this.events.rotatedMany(em, rotated);
      await this.audit.record(em, this.context(items), ...audit);
      return results;
    });
  }

  private async verifyMany(ids: string[]): Promise<boolean[]> {
    const applied = await this.repository.advanceMany(this.dataSource.manager, [...new Set(ids)], 'published', this.clock.now());
    return ids.map((id, i) => applied.has(id) && ids.indexOf(id) === i);
  }

  private promoteMany(items: StepItem[]): Promise<PromoteResult[]> {
    return this.dataSource.transaction(async (em) => {
      const at = this.clock.now();
      const locked = await this.lock(em, items);
      const results: PromoteResult[] = items.map((item, i) => {
        const credential = locked.get(item.rotation.credentialId);
        // An earlier run committed this very promotion (the credential's update and the step's share a transaction).
        if (alreadyPromoted(credential, item.rotation)) return { kind: 'raced' };
        const refusal = refusalOf(credential, item.rotation) ?? duplicateOf(items, i);
        if (refusal) return refusal;
        const graceEndsAt = item.rotation.immediate || item.rotation.graceEndsAt! < at ? at : item.rotation.graceEndsAt!;
        return { kind: 'promoted', graceEndsAt, earlier: 0 };
      });
      const eligible = items.filter((_, i) => results[i].kind === 'promoted');
      const applied = await this.repository.advanceMany(
        em,
        eligible.map((item) => item.rotation.id),
        'verified',
        at,
      );
      const promoted = eligible.filter((item) => applied.has(item.rotation.id));
      await this.credentials.applyRotatedVersions(
        em,
        promoted.map(({ rotation }) => ({
          credential: locked.get(rotation.credentialId)!,
          fromVersion: rotation.fromVersion,
          toVersion: rotation.toVersion,
          versionId: rotation.newVersionId!,
          sha256: rotation.newSecretSha256!,
          ref: rotation.newSecretRef!,
        })),
      );
      const retire: RotationRef[] = [];
      const retireNow: RotationRef[] = [];
      const audit: AuditEntry[] = [];
      for (const [i, item] of items.entries()) {
        const result = results[i];
        if (result.kind !== 'promoted') continue;
        if (!applied.has(item.rotation.id)) {
          results[i] = { kind: 'raced' };
          continue;
        }
        const { rotation } = item;
        // Leak response: every earlier version still in its grace period is retired now too.
        const earlier = rotation.immediate ? await this.repository.endGraceOfEarlier(em, rotation.credentialId, rotation.id, at) : [];
        results[i] = { ...result, earlier: earlier.length };
        retire.push({ ...refOf(rotation), graceEndsAt: result.graceEndsAt });
        retireNow.push(...earlier);
        audit.push({
          action: 'credential.rotated',
          targetType: 'credential',
          targetId: rotation.credentialId,
          data: {
            rotationId: rotation.id,
            trigger: rotation.trigger,
            immediate: rotation.immediate,
            fromVersion: rotation.fromVersion,
            toVersion: rotation.toVersion,
            secretSha256: rotation.newSecretSha256,
            graceEndsAt: result.graceEndsAt.toISOString(),
            job: item.requestId,
            ...(earlier.length ? { earlierVersionsRetiredNow: earlier.map((r) => r.fromVersion) } : {}),
          },
        });
      }
      await this.audit.record(em, this.context(items), ...audit);
      // Promotion sends gateways no event, but an immediate one ends earlier versions' grace now: verification caches hear it at commit.
      await this.credentialChanges.notify(
        em,
        promoted.map(({ rotation }) => rotation.credentialId),
      );
      if (retire.length) {
        this.afterCommit.run(em, async () => {
          await this.queue.addRetirements(retire);
          if (retireNow.length) await this.queue.ensureRetirementsNow(retireNow);
        });
      }
      return results;
    });
  }

  private retireMany(items: StepItem[]): Promise<RetireResult[]> {
    return this.dataSource.transaction(async (em) => {
      const at = this.clock.now();
      const locked = await this.lock(em, items);
      const unique = items.filter((_, i) => !duplicateOf(items, i));
      const applied = await this.repository.advanceMany(
        em,
        unique.map((item) => item.rotation.id),
        'promoted',
        at,
      );
      const audit: AuditEntry[] = [];
      const retired: Parameters<RotationEvents['versionRetiredMany']>[1] = [];
      const results: RetireResult[] = [];
      for (const [i, item] of items.entries()) {
        if (!applied.has(item.rotation.id) || duplicateOf(items, i)) {
          results.push({ kind: 'raced' });
          continue;
        }
        const credential = locked.get(item.rotation.credentialId);
        const revoked = credential?.status !== 'active';
        if (credential && !revoked) retired.push({ credential, rotation: item.rotation });
        audit.push({
          action: 'credential.version_retired',
          targetType: 'credential',
          targetId: item.rotation.credentialId,
          data: {
            rotationId: item.rotation.id,
            retiredVersion: item.rotation.fromVersion,
            store: item.rotation.secretStore,
            job: item.requestId,
            ...(revoked ? { credentialStatus: credential?.status ?? 'missing' } : {}),
          },
        });
        results.push({ kind: 'retired' });
      }
      await this.events.versionRetiredMany(em, retired);
      await this.audit.record(em, this.context(items), ...audit);
      return results;
    });
  }

  private async lock(em: EntityManager, items: Array<{ rotation: RotationEntity }>): Promise<Map<string, Credential>> {
    const credentials = await this.credentials.lockManyForChange(
      em,
      items.map((i) => i.rotation.credentialId),
    );
    return new Map(credentials.map((c) => [c.id, c]));
  }

  /** One job's request id when it is alone in the batch; otherwise the batch's, and each audit entry names its job. */
  private context(items: Array<{ requestId: string }>): RequestContext {
    return systemContext(WORKER, items.length === 1 ? items[0].requestId : `rotation-batch:${this.random.uuid()}`);
  }
}

/** Checked under the credential's row lock before a step is recorded. */
function refusalOf(credential: Credential | undefined, rotation: RotationEntity): StepRefusal | null {
  if (!credential) return { kind: 'moved', reason: 'the credential no longer exists' };
  if (credential.status === 'revoked') return { kind: 'revoked' };
  if (credential.status !== 'active') return { kind: 'moved', reason: `it is ${credential.status}` };
  if (credential.secretVersion !== rotation.fromVersion) {
    return { kind: 'moved', reason: `it is at version ${credential.secretVersion}, not ${rotation.fromVersion}` };
  }
  return null;
}

/** The credential is at the version this rotation writes: a run of it has promoted it (one rotation runs per credential at a time). */
function alreadyPromoted(credential: Credential | undefined, rotation: RotationEntity): boolean {
  return credential?.status === 'active' && credential.secretVersion === rotation.toVersion;
}

/** Two runs of one rotation in one batch: the first goes ahead, the other has raced. */
function duplicateOf(items: Array<{ rotation: RotationEntity }>, index: number): StepRefusal | null {
  const id = items[index].rotation.id;
  return items.findIndex((item) => item.rotation.id === id) < index ? { kind: 'raced' } : null;
}

export function refOf(rotation: RotationEntity): RotationRef {
  return {
    id: rotation.id,
    credentialId: rotation.credentialId,
    secretStore: rotation.secretStore,
    toVersion: rotation.toVersion,
    fromVersion: rotation.fromVersion,
    graceEndsAt: rotation.graceEndsAt,
  };
}
