import { setTimeout as sleep } from 'node:timers/promises';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditEntry, AuditService } from '../audit/audit.service';
import { Actor, assertMayRespond, assertOwnerRead, RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { chunks } from '../common/collections/chunks';
import { NotFoundError } from '../common/errors/domain-error';
import { RandomSource } from '../common/random/random-source';
import { DeliveriesService, DeliveryView } from '../gateways/deliveries.service';
import { EventOutboxService } from '../gateways/event-outbox.service';
import { AgentsService } from '../inventory/agents.service';
import type { Credential } from '../inventory/credential';
import { targetOf } from '../inventory/credential-secrets.service';
import { credentialEventData } from '../inventory/credential-views';
import { CredentialsService } from '../inventory/credentials.service';
import { CredentialRevokedError } from '../inventory/inventory-errors';
import { RotationsService } from '../rotation/rotations.service';
import type { GatewayPropagationDto, RevocationAcceptedDto, RevocationDto } from './dto/revocation.dto';
import { RevocationEntity } from './entities/revocation.entity';
import { RevocationsRepository } from './revocations.repository';
import { SecretDestructionService } from './secret-destruction.service';

export interface RevokeOutcome {
  /** False when the credential (or agent) was already revoked: the summary is the earlier revocation's. */
  created: boolean;
  /** What the revoke endpoints answer (202 the first time, 200 with the same body on a repeat). */
  revocation: RevocationAcceptedDto;
  /**
   * Whether the reason held the secret of a credential it revokes (a version
   * still valid: current, newly published, or in its grace period): a
   * confirmed leak. Recognised by SHA-256; the reason stored holds only a marker.
   */
  reasonContainedSecret: boolean;
}

export type PropagationStatus = 'propagating' | 'complete' | 'failed';

export const MAX_WAIT_SECONDS = 30;
/** Credentials one step of a large revocation locks and revokes. */
const REVOKE_CHUNK = 1000;

/**
 * Revocation: the credential is revoked, the revocation recorded, its
 * `credential.revoked` events written to the outbox and the audit events
 * appended, all in one transaction; the gateways are told and the secret is
 * destroyed after commit, both tracked until done.
 */
@Injectable()
export class RevocationService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: RevocationsRepository,
    private readonly credentials: CredentialsService,
    private readonly agents: AgentsService,
    private readonly outbox: EventOutboxService,
    private readonly deliveries: DeliveriesService,
    private readonly destruction: SecretDestructionService,
    private readonly audit: AuditService,
    private readonly rotations: RotationsService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /** `POST /v1/credentials/:id/revoke`. Idempotent: a revoked credential answers with its revocation. */
  async revokeCredential(ctx: RequestContext, credentialId: string, reason: string): Promise<RevokeOutcome> {
    return this.dataSource.transaction(async (em) => {
      const credential = await this.credentials.lockForChange(em, credentialId);
      assertMayRespond(ctx.actor, credential.ownerId, 'revoke', 'credential');
      const leaked = await this.secretsInReason(em, ctx, [credential]);
      if (credential.status === 'revoked') {
        return { created: false, revocation: await this.summaryOfCredential(em, credentialId), reasonContainedSecret: leaked.size > 0 };
      }
      const { summary, audit } = await this.revokeLocked(em, ctx, [credential], reason, null, leaked);
      await this.audit.record(em, ctx, ...audit);
      return { created: true, revocation: summary, reasonContainedSecret: leaked.size > 0 };
    });
  }

  /**
   * `POST /v1/agents/:id/revoke`: every credential of the agent not yet
   * revoked, in one revocation, and the agent is decommissioned. Idempotent.
   */
  async revokeAgent(ctx: RequestContext, agentId: string, reason: string): Promise<RevokeOutcome> {
    return this.dataSource.transaction(async (em) => {
      const agent = await this.agents.lockForChange(em, agentId);
      assertMayRespond(ctx.actor, agent.ownerId, 'revoke', 'agent');
      if (agent.status === 'decommissioned') {
        const earlier = await this.repository.latestOfAgent(em, agentId);
        if (earlier) {
          const revocation = await this.summaryOf(em, earlier);
          const revoked = ctx.redactions?.length ? await this.credentials.lockManyForChange(em, revocation.credentialIds) : [];
          return { created: false, revocation, reasonContainedSecret: (await this.secretsInReason(em, ctx, revoked)).size > 0 };
        }
      }
      const credentials = await this.credentials.lockUnrevokedOfAgent(em, agentId);
      const leaked = await this.secretsInReason(em, ctx, credentials);
      const { summary, audit } = await this.revokeLocked(em, ctx, credentials, reason, { agentId, ownerId: agent.ownerId }, leaked);
      if (agent.status !== 'decommissioned') {
        await this.agents.markDecommissioned(em, agentId);
        audit.push({
          action: 'agent.decommissioned',
          targetType: 'agent',
          targetId: agentId,
          data: { revocationId: summary.revocationId, reason, credentialIds: summary.credentialIds },
        });
      }
      await this.audit.record(em, ctx, ...audit);
      return { created: true, revocation: summary, reasonContainedSecret: leaked.size > 0 };
    });
  }

  /**
   * The credentials among `credentials` whose own secret was pasted into the
   * reason: the hashes the request boundary kept of the secret-shaped values
   * it redacted from `reason`, against the hashes of each credential's valid
   * versions. No query unless something was redacted.
   */
  private async secretsInReason(em: EntityManager, ctx: RequestContext, credentials: Credential[]): Promise<Set<string>> {
    const pasted = new Set((ctx.redactions ?? []).filter((r) => r.field === 'reason').map((r) => r.sha256));
    if (pasted.size === 0 || credentials.length === 0) return new Set();
    const valid = await this.rotations.validSecretSha256s(em, credentials, this.clock.now());
    return new Set(credentials.filter((c) => [...(valid.get(c.id) ?? [])].some((sha256) => pasted.has(sha256))).map((c) => c.id));
  }

  /**
   * Revokes credentials inside the caller's transaction, as one revocation,
   * for callers that decided it themselves (review decisions, campaign expiry).
   * Does not authorize: the caller has. Locks the credentials in id order;
   * those already revoked are skipped. Returns null when none was left to
   * revoke. Appends the `credential.revoked` audit events itself.
   */
  async revokeInTransaction(
    em: EntityManager,
    ctx: RequestContext,
    credentialIds: string[],
    reason: string,
  ): Promise<RevocationAcceptedDto | null> {
    // A thousand at a time (a campaign's expiry may revoke a hundred thousand): each chunk is locked, revoked,
    // published and audited before the next is read, so memory stays flat. Chunks follow id order, as locks must.
    const ids = [...new Set(credentialIds.map((id) => id.toLowerCase()))].sort();
    const now = this.clock.now();
    let revocation: RevocationEntity | null = null;
    const owners = new Set<string>();
    const revoked: string[] = [];
    for (const chunk of chunks(ids, REVOKE_CHUNK)) {
      const locked = await this.credentials.lockManyForChange(em, chunk);
      if (locked.length < chunk.length) {
        const found = new Set(locked.map((c) => c.id));
        throw new NotFoundError(
          'credential',
          chunk.find((id) => !found.has(id))!,
        );
      }
      const toRevoke = locked.filter((c) => c.status !== 'revoked');
      if (toRevoke.length === 0) continue;
      for (const c of toRevoke) owners.add(c.ownerId);
      const first = revocation === null;
      revocation ??= this.newRevocation(ctx, reason, null, owners.size === 1 ? toRevoke[0].ownerId : null, now);
      await this.audit.record(em, ctx, ...(await this.revokeChunk(em, revocation, toRevoke, first)));
      revoked.push(...toRevoke.map((c) => c.id));
    }
    if (!revocation) return null;
    if (owners.size > 1 && revocation.ownerId !== null) {
      await this.repository.clearOwner(em, revocation.id);
    }
    return { revocationId: revocation.id, credentialIds: revoked, revokedAt: now.toISOString() };
  }

  /**
   * `GET /v1/revocations/:id`. With `waitSeconds`, holds the answer until no
   * delivery is pending any more (each acknowledged or given up) or the time is up.
   */
  async get(actor: Actor, id: string, waitSeconds = 0): Promise<RevocationDto> {
    const revocation = await this.repository.findById(id);
    if (!revocation) throw new NotFoundError('revocation', id);
    assertOwnerRead(actor, revocation.ownerId, 'revocation');
    const waitMs = Math.min(Math.max(waitSeconds, 0), MAX_WAIT_SECONDS) * 1000;
    const started = performance.now();
    let pause = 10;
    for (;;) {
      const view = await this.view(revocation);
      const remaining = waitMs - (performance.now() - started);
      if (view.status !== 'propagating' || remaining <= 0) return view;
      await sleep(Math.min(pause, remaining));
      pause = Math.min(pause * 1.5, 250);
    }
  }

  private async revokeLocked(
    em: EntityManager,
    ctx: RequestContext,
    credentials: Credential[],
    reason: string,
    agent: { agentId: string; ownerId: string } | null,
    leaked: Set<string>,
  ): Promise<{ summary: RevocationAcceptedDto; audit: AuditEntry[] }> {
    const now = this.clock.now();
    const owners = new Set(credentials.map((c) => c.ownerId));
    const revocation = this.newRevocation(
      ctx,
      reason,
      agent?.agentId ?? null,
      agent?.ownerId ?? (owners.size === 1 ? [...owners][0] : null),
      now,
    );
    const audit = await this.revokeChunk(em, revocation, credentials, true);
    if (ctx.redactions?.some((r) => r.field === 'reason')) {
      // The reason had a secret-shaped value redacted: each event says whether it was this credential's own secret.
      for (const entry of audit) entry.data = { ...entry.data, reasonContainedSecret: leaked.has(entry.targetId) };
    }
    return { summary: { revocationId: revocation.id, credentialIds: credentials.map((c) => c.id), revokedAt: now.toISOString() }, audit };
  }

  private newRevocation(ctx: RequestContext, reason: string, agentId: string | null, ownerId: string | null, now: Date): RevocationEntity {
    return {
      id: this.random.uuid(),
      agentId,
      ownerId,
      reason,
      actor: { tokenId: ctx.actor.tokenId, role: ctx.actor.role, ownerId: ctx.actor.ownerId },
      requestId: ctx.requestId,
      revokedAt: now,
      createdAt: now,
    };
  }

  /**
   * Revokes locked credentials as part of `revocation`: marks them revoked,
   * publishes their `credential.revoked` events, records their rows (with the
   * revocation itself when `withRevocation`, in the same statement: the revoke
   * call waits on every round trip) and schedules their secrets' destruction.
   * Returns their audit entries, for the caller to append.
   */
  private async revokeChunk(
    em: EntityManager,
    revocation: RevocationEntity,
    credentials: Credential[],
    withRevocation: boolean,
  ): Promise<AuditEntry[]> {
    const { reason, revokedAt: now } = revocation;
    const revokedAt = now.toISOString();
    const previousStatus = new Map(credentials.map((c) => [c.id, c.status]));
    await this.credentials.markRevoked(em, credentials, now, reason);
    const events = await this.outbox.publishMany(
      em,
      credentials.map((credential) => ({
        type: 'credential.revoked' as const,
        credentialId: credential.id,
        environment: credential.environment,
        data: { ...credentialEventData(credential), reason, revokedAt, revocationId: revocation.id },
      })),
    );
    const rows = credentials.map((credential, i) => ({
      credentialId: credential.id,
      eventId: events[i].eventId,
      secretStore: credential.secretStore,
      secretTarget: targetOf(credential),
    }));
    await this.repository.insertRevoked(em, revocation, rows, withRevocation);
    this.destruction.scheduleAfterCommit(
      em,
      rows.map((r) => ({ revocationId: revocation.id, credentialId: r.credentialId })),
    );
    return credentials.map((credential) => ({
      action: 'credential.revoked',
      targetType: 'credential',
      targetId: credential.id,
      data: { revocationId: revocation.id, reason, agentId: credential.agentId, previousStatus: previousStatus.get(credential.id) },
    }));
  }

  private async summaryOfCredential(em: EntityManager, credentialId: string): Promise<RevocationAcceptedDto> {
    const row = await this.repository.credentialRow(em, credentialId);
    const revocation = row && (await this.repository.findIn(em, row.revocationId));
    // A revoked credential without its revocation's record: nothing to answer with but the state itself.
    if (!revocation) throw new CredentialRevokedError();
    return this.summaryOf(em, revocation);
  }

  private async summaryOf(em: EntityManager, revocation: RevocationEntity): Promise<RevocationAcceptedDto> {
    const rows = await this.repository.credentialsOf(revocation.id, em);
    return { revocationId: revocation.id, credentialIds: rows.map((r) => r.credentialId), revokedAt: revocation.revokedAt.toISOString() };
  }

  private async view(revocation: RevocationEntity): Promise<RevocationDto> {
    const rows = await this.repository.credentialsOf(revocation.id);
    const deliveries = byGateway(await this.deliveries.forEvents(rows.map((r) => r.eventId)));
    return {
      id: revocation.id,
      revocationId: revocation.id,
      credentialIds: rows.map((r) => r.credentialId),
      agentId: revocation.agentId,
      ownerId: revocation.ownerId,
      reason: revocation.reason,
      actor: revocation.actor,
      revokedAt: revocation.revokedAt.toISOString(),
      status: propagationStatus(deliveries),
      deliveries,
      secrets: rows.map((r) => ({
        credentialId: r.credentialId,
        status: r.secretStatus,
        attempts: r.secretAttempts,
        lastError: r.secretLastError,
        destroyedAt: r.secretDestroyedAt ? r.secretDestroyedAt.toISOString() : null,
      })),
    };
  }
}

/** One entry per gateway, over the revocation's events (one per credential). */
function byGateway(deliveries: DeliveryView[]): GatewayPropagationDto[] {
  const groups = new Map<string, DeliveryView[]>();
  for (const d of deliveries) {
    const key = d.gatewayId ?? d.target;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  return [...groups.entries()].map(([gatewayId, items]) => {
    const status = items.some((d) => d.status === 'failed')
      ? 'failed'
      : items.some((d) => d.status === 'pending')
        ? 'pending'
        : 'delivered';
    const unfinished = items.find((d) => d.status !== 'delivered' && d.lastError) ?? items.find((d) => d.lastError);
    const deliveredAt =
      status === 'delivered'
        ? items
            .map((d) => d.deliveredAt!)
            .sort()
            .at(-1)!
        : null;
    return {
      gatewayId,
      status,
      attempts: items.reduce((sum, d) => sum + d.attempts, 0),
      deliveredAt,
      lastError: unfinished?.lastError ?? null,
      lastStatusCode: (unfinished ?? items[items.length - 1]).lastStatusCode,
      deliveryIds: items.map((d) => d.id),
    };
  });
}

function propagationStatus(deliveries: GatewayPropagationDto[]): PropagationStatus {
  if (deliveries.some((d) => d.status === 'pending')) return 'propagating';
  return deliveries.some((d) => d.status === 'failed') ? 'failed' : 'complete';
}
