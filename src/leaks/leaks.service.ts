import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditEntry, AuditService } from '../audit/audit.service';
import type { RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { definedOnly } from '../common/collections/defined-only';
import { isUniqueViolation } from '../common/db/pg-errors';
import { ConflictError } from '../common/errors/domain-error';
import type { LeakAction } from '../config/app-config';
import type { Credential } from '../inventory/credential';
import { CredentialsService } from '../inventory/credentials.service';
import { RevocationService } from '../revocation/revocation.service';
import { RotationInProgressError } from '../rotation/rotation-errors';
import { RotationsService } from '../rotation/rotations.service';
import type { ActionTaken, LeakReportAnswerDto, VersionState } from './dto/leak.dto';
import { LeakedVersionPendingError } from './leak-errors';
import { LeakFindings } from './leak-findings';

/** A leak report as the use case takes it: the secret only ever as its SHA-256. */
export interface LeakReport {
  secretSha256: string;
  /** Free text, already redacted at the request boundary. */
  source: string | null;
  url: string | null;
  action: LeakAction;
  /**
   * For scanners (GitHub) that cannot be asked again: when a rotation cannot
   * start (one is running, or the leaked secret is the pending version), the
   * credential is revoked instead, so a confirmed leak never stays valid.
   */
  revokeWhenRotationImpossible?: boolean;
}

interface VersionMatch {
  credential: Credential;
  version: number | null;
  current: boolean;
}

/**
 * Leak response: a reported secret is recognised by its SHA-256 among every
 * version a credential ever had, and a version gateways still accept
 * (current, in its grace period, or the pending version of an unfinished
 * rotation) is revoked or rotated at once through the revocation and
 * rotation use cases. Every report is audited as `leak.reported`, by hash,
 * in the transaction of whatever it changed.
 */
@Injectable()
export class LeaksService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly credentials: CredentialsService,
    private readonly rotations: RotationsService,
    private readonly revocations: RevocationService,
    private readonly findings: LeakFindings,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  async report(ctx: RequestContext, report: LeakReport): Promise<LeakReportAnswerDto> {
    try {
      return await this.dataSource.transaction((em) => this.reportIn(em, ctx, report));
    } catch (error) {
      // Another rotation of the credential started between the check and the insert (rotations_one_running_key).
      if (isUniqueViolation(error)) throw new RotationInProgressError();
      throw error;
    }
  }

  private async reportIn(em: EntityManager, ctx: RequestContext, report: LeakReport): Promise<LeakReportAnswerDto> {
    const { secretSha256, source, url } = report;
    const now = this.clock.now();
    const reported = { secretSha256, source, url, requestedAction: report.action };
    const match = await this.findVersion(em, secretSha256);
    if (!match) {
      await this.audit.record(em, ctx, leakReported(reported, { matched: false, actionTaken: 'none' }));
      return { matched: false, secretSha256, actionTaken: 'none' };
    }
    const { credential, version, current } = match;
    const state = await this.versionState(em, match, secretSha256, now);
    const found = { matched: true, credentialId: credential.id, version: version ?? undefined, current, versionState: state };
    const audit: AuditEntry[] = [];

    if (state === 'retired' || state === 'revoked') {
      const alert = await this.findings.retiredKeyReported(em, ctx, {
        credentialId: credential.id,
        version,
        versionState: state,
        secretSha256,
        source,
        url,
        reportedAt: now,
      });
      const answer: LeakReportAnswerDto = { ...found, secretSha256, actionTaken: 'none', ...(alert ? { alertId: alert.alertId } : {}) };
      audit.push(
        {
          action: 'leak.retired_key_reported',
          targetType: 'credential',
          targetId: credential.id,
          data: { secretSha256, version, versionState: state, source, url, alertId: alert?.alertId ?? null },
        },
        leakReported(reported, answer),
      );
      await this.audit.record(em, ctx, ...audit);
      return answer;
    }

    const reason = `leak reported: ${[source, url].filter(Boolean).join(' ') || 'no source given'}`;
    let actionTaken: ActionTaken = 'none';
    let revocationId: string | undefined;
    let rotationId: string | undefined;
    let action = report.action;
    if (action === 'rotate') {
      try {
        // The pending version of an unfinished rotation: rotating would promote it.
        if (state === 'pending') throw new LeakedVersionPendingError(version!);
        ({ rotationId } = await this.rotations.requestRotationInTransaction(em, ctx, credential.id, { immediate: true, reason }));
        actionTaken = 'rotated';
      } catch (error) {
        // Each refusal above is decided before anything is written, so the transaction can go on to revoke.
        if (!(report.revokeWhenRotationImpossible && error instanceof ConflictError)) throw error;
        action = 'revoke';
      }
    }
    if (action === 'revoke') {
      const revocation = await this.revocations.revokeInTransaction(em, ctx, [credential.id], reason);
      revocationId = revocation?.revocationId;
      actionTaken = 'revoked';
    }
    const answer: LeakReportAnswerDto = { ...found, secretSha256, actionTaken, revocationId, rotationId };
    await this.audit.record(em, ctx, leakReported(reported, answer));
    return answer;
  }

  /**
   * The credential and version a secret is, judged on the credential's row
   * locked for the change: its current version (credentials.secret_sha256),
   * or one that rotations wrote or replaced.
   */
  private async findVersion(em: EntityManager, secretSha256: string): Promise<VersionMatch | null> {
    const id =
      (await this.credentials.idBySecretSha256(em, secretSha256)) ?? (await this.rotations.versionBySha256(em, secretSha256))?.credentialId;
    if (!id) return null;
    const credential = await this.credentials.lockForChange(em, id);
    if (credential.secretSha256 === secretSha256) return { credential, version: credential.secretVersion, current: true };
    // Rotated meanwhile (between the lookup and the lock): the rotations still know the version.
    const rotated = await this.rotations.versionBySha256(em, secretSha256);
    return { credential, version: rotated?.version ?? null, current: false };
  }

  /** Whether gateways still accept the version: rotation's rules (RotationsService.validSecretSha256s) decide. */
  private async versionState(em: EntityManager, match: VersionMatch, secretSha256: string, now: Date): Promise<VersionState> {
    const { credential, version, current } = match;
    if (credential.status === 'revoked') return 'revoked';
    if (current) return 'current';
    const valid = await this.rotations.validSecretSha256s(em, [credential], now);
    if (!valid.get(credential.id)?.has(secretSha256)) return 'retired';
    return version !== null && credential.secretVersion !== null && version > credential.secretVersion ? 'pending' : 'grace';
  }
}

/** `leak.reported`, on the leak itself (target id: the secret's SHA-256), so every report of one secret is found together. */
function leakReported(reported: { secretSha256: string } & Record<string, unknown>, answer: Partial<LeakReportAnswerDto>): AuditEntry {
  return {
    action: 'leak.reported',
    targetType: 'leak',
    targetId: reported.secretSha256,
    data: { ...reported, ...definedOnly(answer) },
  };
}
