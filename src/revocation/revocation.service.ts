import { setTimeout as sleep } from 'node:timers/promises';

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditEntry, AuditService } from '../audit/audit.service';
import { Actor, assertMayRespond, assertOwnerRead, RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { chunks } from '../common/collections/chunks';
import { GroupCommit } from '../common/db/group-commit';
import { NotFoundError } from '../common/errors/domain-error';
import { decodeTimeCursor, encodeTimeCursor, Page } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { DeliveriesService, DeliverySummaryRow } from '../gateways/deliveries.service';
import { EventOutboxService } from '../gateways/event-outbox.service';
import { AgentsService } from '../inventory/agents.service';
import type { Credential } from '../inventory/credential';
import { targetOf } from '../inventory/credential-secrets.service';
import { credentialEventData } from '../inventory/credential-views';
import { CredentialsService, RevocableFilter } from '../inventory/credentials.service';
import { CredentialRevokedError } from '../inventory/inventory-errors';
import { RotationsService } from '../rotation/rotations.service';
import type {
  BulkDryRunDto,
  GatewayPropagationDto,
  ListRevocationsQueryDto,
  RevocationAcceptedDto,
  RevocationDto,
  RevocationListItemDto,
} from './dto/revocation.dto';
import { RevocationEntity } from './entities/revocation.entity';
import { EmptyRevocationFilterError, MAX_BULK_REVOCATION, NoMatchingCredentialsError, TooManyMatchesError } from './revocation-errors';
import { RevocationListRow, RevocationsRepository } from './revocations.repository';
import { SecretDestructionService } from './secret-destruction.service';
import { BATCH_SWEEP_GRACE_MS, destructionJobsOf } from './secret-destruction-jobs';

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
/** How many matches a dry run shows. */
const DRY_RUN_SAMPLE = 20;
/** Revocations a filtered list reads, at most, to fill one page (then it answers with what it found and a cursor). */
const LIST_SCAN_LIMIT = 2000;
/** Bulk revocation input: what to revoke (at least one field) and why. */
export interface BulkRevocationInput {
  reason: string;
  filter: {
    credentialIds?: string[];
    agentIds?: string[];
    ownerId?: string;
    environment?: string;
    scopes?: string[];
    products?: string[];
    createdBefore?: string;
    secretStore?: string;
  };
}
/** Credentials one step of a large revocation locks and revokes. */
const REVOKE_CHUNK = 1000;
/** The steps of a large revocation in flight at once, once its first step has committed. */
const CHUNKS_IN_FLIGHT = 2;
/** Single-credential revocations one transaction commits together at most. */
const SINGLES_PER_TRANSACTION = 64;

/** One `POST /v1/credentials/:id/revoke` waiting for its group's transaction. */
interface SingleRevocation {
  ctx: RequestContext;
  credentialId: string;
  reason: string;
}

/** Its answer: the outcome, or the error the call answers with (this call's own: others in the group are unaffected). */
type SingleOutcome = { revoked: RevokeOutcome } | { error: unknown } | { alone: true };

/**
 * Revocation: the credential is revoked, the revocation recorded, its
 * `credential.revoked` events written to the outbox and the audit events
 * appended, all in one transaction; the gateways are told and the secret is
 * destroyed after commit, both tracked until done.
 */
@Injectable()
export class RevocationService {
  private readonly singles = new GroupCommit<SingleRevocation, SingleOutcome>(
    (items) => this.commitSingles(items),
    SINGLES_PER_TRANSACTION,
  );

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

  /**
   * `POST /v1/credentials/:id/revoke`. Idempotent: a revoked credential answers
   * with its revocation. Concurrent calls are committed together (group
   * commit, SINGLES_PER_TRANSACTION at most): one transaction locks their
   * credentials, writes each one's revocation, event, rows and audit event
   * (with its own actor and request id), and commits once; each call is
   * answered after that commit with its own outcome. A lone call waits for
   * nothing but the current turn of the event loop.
   */
  async revokeCredential(ctx: RequestContext, credentialId: string, reason: string): Promise<RevokeOutcome> {
    let outcome = await this.singles.submit({ ctx, credentialId, reason });
    // Its row was held by another transaction (or is unknown): on its own, waiting for the lock as a revoke always did.
    if ('alone' in outcome)
      outcome = (await this.dataSource.transaction((em) => this.revokeSingles(em, [{ ctx, credentialId, reason }], false)))[0];
    if ('alone' in outcome) throw new Error('a revocation on its own was not carried out'); // never: waiting, it either locks or finds none
    if ('error' in outcome) throw outcome.error;
    return outcome.revoked;
  }

  /**
   * Commits single-credential revocations together. If the transaction fails
   * (not an answer of one call's own, like its credential not its caller's:
   * those are outcomes), each is committed again on its own, so only a bad
   * one fails.
   */
  private async commitSingles(items: SingleRevocation[]): Promise<SingleOutcome[]> {
    try {
      return await this.dataSource.transaction((em) => this.revokeSingles(em, items));
    } catch (error) {
      if (items.length === 1) return [{ error }];
      const outcomes: SingleOutcome[] = [];
      for (const item of items) outcomes.push(...(await this.commitSingles([item])));
      return outcomes;
    }
  }

  /**
   * Revokes the credentials of single-credential calls in `em`, each its own
   * revocation. In a group (`grouped`) rows another transaction holds are not
   * waited for: their calls come back `alone`, to be carried out in a
   * transaction of their own (which waits for the lock), so that one held row
   * (a bulk revocation's chunk, a rotation step) does not hold up the others.
   */
  private async revokeSingles(em: EntityManager, items: SingleRevocation[], grouped = true): Promise<SingleOutcome[]> {
    const ids = items.map((i) => i.credentialId);
    const locked = new Map(
      (grouped ? await this.credentials.lockManyForChangeUnlessHeld(em, ids) : await this.credentials.lockManyForChange(em, ids)).map(
        (c) => [c.id, c],
      ),
    );
    const outcomes: SingleOutcome[] = new Array<SingleOutcome>(items.length);
    const now = this.clock.now();
    const fresh: Array<{ index: number; ctx: RequestContext; credential: Credential; revocation: RevocationEntity; leaked: Set<string> }> =
      [];
    /** Calls for a credential already revoked, before this transaction or by an earlier call in it: the same revocation. */
    const repeats: Array<{ index: number; credentialId: string; leaked: Set<string> }> = [];
    const revokedHere = new Map<string, number>();
    for (const [index, item] of items.entries()) {
      const credential = locked.get(item.credentialId.toLowerCase());
      if (!credential) {
        outcomes[index] = grouped ? { alone: true } : { error: new NotFoundError('credential', item.credentialId) };
        continue;
      }
      try {
        assertMayRespond(item.ctx.actor, credential.ownerId, 'revoke', 'credential');
      } catch (error) {
        outcomes[index] = { error };
        continue;
      }
      const leaked = await this.secretsInReason(em, item.ctx, [credential]);
      if (credential.status === 'revoked' || revokedHere.has(credential.id)) {
        repeats.push({ index, credentialId: credential.id, leaked });
        continue;
      }
      revokedHere.set(credential.id, fresh.length);
      const revocation = this.newRevocation(item.ctx, item.reason, null, credential.ownerId, now);
      fresh.push({ index, ctx: item.ctx, credential, revocation, leaked });
    }
    if (fresh.length > 0) {
      const audits = await this.revokeParts(
        em,
        fresh.map((f) => ({ revocation: f.revocation, credentials: [f.credential], withRevocation: true })),
      );
      await this.audit.recordEach(
        em,
        fresh.flatMap((f, i) =>
          audits[i].map((entry) => ({
            ctx: f.ctx,
            entry: f.ctx.redactions?.some((r) => r.field === 'reason')
              ? { ...entry, data: { ...entry.data, reasonContainedSecret: f.leaked.has(entry.targetId) } }
              : entry,
          })),
        ),
      );
      for (const f of fresh) {
        outcomes[f.index] = {
          revoked: {
            created: true,
            revocation: { revocationId: f.revocation.id, credentialIds: [f.credential.id], revokedAt: now.toISOString() },
            reasonContainedSecret: f.leaked.size > 0,
          },
        };
      }
    }
    for (const repeat of repeats) {
      const here = revokedHere.get(repeat.credentialId);
      const revocation =
        here === undefined
          ? await this.summaryOfCredential(em, repeat.credentialId)
          : (outcomes[fresh[here].index] as { revoked: RevokeOutcome }).revoked.revocation;
      outcomes[repeat.index] = { revoked: { created: false, revocation, reasonContainedSecret: repeat.leaked.size > 0 } };
    }
    return outcomes;
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

  /** `POST /v1/revocations` with `dryRun`: how many credentials the filter matches now and the first few, by id. Changes and stores nothing. */
  async previewMatching(filter: BulkRevocationInput['filter']): Promise<BulkDryRunDto> {
    const { total, matches } = await this.credentials.revocableMatching(toRevocableFilter(filter), DRY_RUN_SAMPLE);
    return { count: total, sample: matches.map((m) => m.id) };
  }

  /**
   * `POST /v1/revocations`: one revocation of every revocable credential the
   * filter matches (at most MAX_BULK_REVOCATION). The matches are read once,
   * then revoked a chunk at a time in id order, each chunk in a transaction of
   * its own with its events, rows and audit entries (the first also writes
   * the revocation and a `revocation.created` entry naming the filter; once
   * it has committed, CHUNKS_IN_FLIGHT chunks are written at once): a
   * chunk's credentials are revoked, and its events on their way, while the
   * next is written, and no transaction holds ten thousand row locks or the
   * audit chain for long. A credential revoked meanwhile by another call is
   * skipped (it stays that call's). Responders and admins only (route roles):
   * no owner check.
   */
  async revokeMatching(ctx: RequestContext, input: BulkRevocationInput): Promise<RevokeOutcome & { count: number }> {
    const filter = toRevocableFilter(input.filter);
    const { total, matches } = await this.credentials.revocableMatching(filter, MAX_BULK_REVOCATION + 1);
    if (total > MAX_BULK_REVOCATION) throw new TooManyMatchesError(total);
    if (total === 0) throw new NoMatchingCredentialsError();
    const owners = new Set(matches.map((m) => m.ownerId));
    const revocation = this.newRevocation(ctx, input.reason, null, owners.size === 1 ? matches[0].ownerId : null, this.clock.now());
    const ids = chunks(
      matches.map((m) => m.id),
      REVOKE_CHUNK,
    );
    /** Each chunk's revoked credentials, by chunk (the answer lists them in id order, however the chunks finished). */
    const revokedBy: string[][] = ids.map(() => []);
    let created = false;
    let reasonContainedSecret = false;
    const revokeChunkOf = (index: number) =>
      this.dataSource.transaction(async (em) => {
        const locked = await this.credentials.lockManyForChange(em, ids[index]);
        const toRevoke = locked.filter((c) => c.status === 'active' || c.status === 'pending_approval');
        if (toRevoke.length === 0) return;
        const leaked = await this.secretsInReason(em, ctx, toRevoke);
        const first = !created;
        const audit = await this.revokeChunk(em, revocation, toRevoke, first);
        if (ctx.redactions?.some((r) => r.field === 'reason')) {
          for (const entry of audit) entry.data = { ...entry.data, reasonContainedSecret: leaked.has(entry.targetId) };
        }
        if (first) {
          audit.unshift({
            action: 'revocation.created',
            targetType: 'revocation',
            targetId: revocation.id,
            data: { reason: input.reason, filter: auditedFilter(input.filter), matched: total },
          });
        }
        await this.audit.record(em, ctx, ...audit);
        reasonContainedSecret ||= leaked.size > 0;
        revokedBy[index] = toRevoke.map((c) => c.id);
        if (first) created = true;
      });
    // Until one chunk has committed the revocation itself, one at a time (the others' rows reference it); then
    // CHUNKS_IN_FLIGHT at a time: their credentials are disjoint and each locks its own in id order, so the
    // transactions never wait on one another, and one's statements run while another's wait on the network.
    let next = 0;
    while (next < ids.length && !created) await revokeChunkOf(next++);
    let failed = false;
    const lane = async (): Promise<void> => {
      while (!failed && next < ids.length) {
        try {
          await revokeChunkOf(next++);
        } catch (error) {
          failed = true; // the other lane stops after its chunk: what committed stays revoked, as before
          throw error;
        }
      }
    };
    const lanes = await Promise.allSettled(Array.from({ length: CHUNKS_IN_FLIGHT }, lane));
    const failure = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (failure) throw failure.reason;
    const revoked = revokedBy.flat();
    // Every match was revoked by another call between the read and the locks.
    if (revoked.length === 0) throw new NoMatchingCredentialsError();
    return {
      created: true,
      count: revoked.length,
      revocation: { revocationId: revocation.id, credentialIds: revoked, revokedAt: revocation.revokedAt.toISOString() },
      reasonContainedSecret,
    };
  }

  /**
   * `GET /v1/revocations`: newest first, from the cursor. With `status`, a
   * page holds the revocations in that propagation state among the next
   * LIST_SCAN_LIMIT read; a page shorter than `limit` with a cursor means
   * more remain to look through.
   */
  async list(query: ListRevocationsQueryDto): Promise<Page<RevocationListItemDto>> {
    const limit = query.limit ?? 50;
    const since = query.since ? new Date(query.since) : undefined;
    let after = decodeTimeCursor(query.cursor);
    const items: RevocationListItemDto[] = [];
    let scanned = 0;
    for (;;) {
      const batch = query.status ? Math.min(Math.max(limit + 1, 100), LIST_SCAN_LIMIT) : limit + 1;
      const rows = await this.repository.listPage({ since, after, limit: batch });
      const statuses = await this.statusesOf(rows);
      for (const row of rows) {
        scanned++;
        const status = statuses.get(row.id)!;
        if (query.status && status !== query.status) {
          after = { createdAt: row.createdAt, id: row.id };
          if (scanned >= LIST_SCAN_LIMIT) return { items, nextCursor: encodeTimeCursor(after) };
          continue;
        }
        if (items.length === limit) return { items, nextCursor: encodeTimeCursor(after!) };
        items.push(toListItem(row, status));
        after = { createdAt: row.createdAt, id: row.id };
        if (scanned >= LIST_SCAN_LIMIT && query.status) return { items, nextCursor: encodeTimeCursor(after) };
      }
      if (rows.length < batch) return { items, nextCursor: null };
    }
  }

  private async statusesOf(rows: RevocationListRow[]): Promise<Map<string, PropagationStatus>> {
    const events = await this.repository.eventsOfMany(rows.map((r) => r.id));
    const counts = await this.deliveries.statusCountsByGroup(events.map((e) => ({ eventId: e.eventId, group: e.revocationId })));
    return new Map(
      rows.map((r) => {
        const c = counts.get(r.id);
        return [r.id, !c ? 'complete' : c.pending > 0 ? 'propagating' : c.failed > 0 ? 'failed' : 'complete'];
      }),
    );
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
  async get(actor: Actor, id: string, waitSeconds = 0, view: 'full' | 'summary' = 'full'): Promise<RevocationDto> {
    const revocation = await this.repository.findById(id);
    if (!revocation) throw new NotFoundError('revocation', id);
    assertOwnerRead(actor, revocation.ownerId, 'revocation');
    const waitMs = Math.min(Math.max(waitSeconds, 0), MAX_WAIT_SECONDS) * 1000;
    const eventIds = waitMs > 0 || view === 'summary' ? await this.repository.eventIdsOf(revocation.id) : null;
    if (waitMs > 0) {
      // Polls the per-gateway counts only (one aggregate, however many credentials); the full view is built once.
      const started = performance.now();
      let pause = 10;
      for (;;) {
        const pending = (await this.deliveries.summaryByTarget(eventIds!)).some((d) => d.pending > 0);
        const remaining = waitMs - (performance.now() - started);
        if (!pending || remaining <= 0) break;
        await sleep(Math.min(pause, remaining));
        pause = Math.min(pause * 1.5, 250);
      }
    }
    return view === 'summary' ? this.summaryView(revocation, eventIds!) : this.view(revocation);
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
    return (await this.revokeParts(em, [{ revocation, credentials, withRevocation }]))[0];
  }

  /**
   * As `revokeChunk`, for several revocations at once (single-credential
   * calls committed together): one statement each for the credentials, the
   * events and the rows, whatever the number of revocations. The audit
   * entries, by part.
   */
  private async revokeParts(
    em: EntityManager,
    parts: Array<{ revocation: RevocationEntity; credentials: Credential[]; withRevocation: boolean }>,
  ): Promise<AuditEntry[][]> {
    const all = parts.flatMap(({ revocation, credentials }) => credentials.map((credential) => ({ revocation, credential })));
    const previousStatus = new Map(all.map(({ credential }) => [credential.id, credential.status]));
    if (parts.length === 1) {
      const { revocation, credentials } = parts[0];
      await this.credentials.markRevoked(em, credentials, revocation.revokedAt, revocation.reason);
    } else {
      await this.credentials.markRevokedEach(
        em,
        all.map(({ revocation, credential }) => ({ credential, at: revocation.revokedAt, reason: revocation.reason })),
      );
    }
    const events = await this.outbox.publishMany(
      em,
      all.map(({ revocation, credential }) => ({
        type: 'credential.revoked' as const,
        credentialId: credential.id,
        environment: credential.environment,
        data: {
          ...credentialEventData(credential),
          reason: revocation.reason,
          revokedAt: revocation.revokedAt.toISOString(),
          revocationId: revocation.id,
        },
      })),
      { deliveryIds: false },
    );
    let next = 0;
    const revoked = parts.map(({ revocation, credentials }) =>
      credentials.map((credential) => ({
        credentialId: credential.id,
        eventId: events[next++].eventId,
        secretStore: credential.secretStore,
        secretTarget: targetOf(credential),
        revocationId: revocation.id,
      })),
    );
    // One destruction job per store for the whole commit (however many revocations it carries). A batch job's id is
    // not the job sweep's, so the sweep leaves its rows a while (BATCH_SWEEP_GRACE_MS); a job of one credential has the sweep's id.
    const jobs = destructionJobsOf(revoked.flat());
    const batched = new Set(jobs.flatMap((job) => job.credentialIds ?? []));
    const graceEnd = new Date(parts[0].revocation.revokedAt.getTime() + BATCH_SWEEP_GRACE_MS);
    await this.repository.insertRevokedMany(
      em,
      parts.map(({ revocation, withRevocation }, i) => ({
        revocation,
        withRevocation,
        rows: revoked[i].map((row) => ({ ...row, firstSweepAt: batched.has(row.credentialId) ? graceEnd : revocation.revokedAt })),
      })),
    );
    this.destruction.scheduleAfterCommit(em, jobs);
    return parts.map(({ revocation, credentials }) =>
      credentials.map((credential) => ({
        action: 'credential.revoked',
        targetType: 'credential',
        targetId: credential.id,
        data: {
          revocationId: revocation.id,
          reason: revocation.reason,
          agentId: credential.agentId,
          previousStatus: previousStatus.get(credential.id),
        },
      })),
    );
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

  /**
   * `view=summary`: the same answer without the lists that grow with the
   * revocation (two aggregates; a poll of a ten-thousand-credential revocation
   * answers a few hundred bytes instead of megabytes).
   */
  private async summaryView(revocation: RevocationEntity, eventIds: string[]): Promise<RevocationDto> {
    const counts = await this.repository.countsOf(revocation.id);
    const deliveries = (await this.deliveries.summaryByTarget(eventIds)).map(toPropagation);
    return {
      id: revocation.id,
      revocationId: revocation.id,
      credentialIds: [],
      agentId: revocation.agentId,
      ownerId: revocation.ownerId,
      reason: revocation.reason,
      actor: revocation.actor,
      revokedAt: revocation.revokedAt.toISOString(),
      status: propagationStatus(deliveries),
      deliveries,
      secrets: [],
      credentialCount: counts.credentials,
      secretCounts: { pending: counts.pending, destroyed: counts.destroyed },
    };
  }

  private async view(revocation: RevocationEntity): Promise<RevocationDto> {
    const rows = await this.repository.credentialsOf(revocation.id);
    const deliveries = (
      await this.deliveries.summaryByTarget(
        rows.map((r) => r.eventId),
        true,
      )
    ).map(toPropagation);
    return {
      credentialCount: rows.length,
      secretCounts: {
        pending: rows.filter((r) => r.secretStatus === 'pending').length,
        destroyed: rows.filter((r) => r.secretStatus === 'destroyed').length,
      },
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

/** One gateway's part in a revocation, from its deliveries counted by state (one delivery per credential). */
function toPropagation(d: DeliverySummaryRow): GatewayPropagationDto {
  const status = d.failed > 0 ? 'failed' : d.pending > 0 ? 'pending' : 'delivered';
  return {
    gatewayId: d.gatewayId ?? d.target,
    status,
    total: d.total,
    delivered: d.delivered,
    pending: d.pending,
    failed: d.failed,
    attempts: d.attempts,
    deliveredAt: status === 'delivered' && d.lastDeliveredAt ? new Date(d.lastDeliveredAt).toISOString() : null,
    lastError: d.lastError,
    lastStatusCode: d.lastStatusCode,
    deliveryIds: d.deliveryIds ?? [],
  };
}

function toListItem(row: RevocationListRow, status: PropagationStatus): RevocationListItemDto {
  return {
    id: row.id,
    revocationId: row.id,
    agentId: row.agentId,
    ownerId: row.ownerId,
    reason: row.reason,
    actor: row.actor,
    revokedAt: new Date(row.revokedAt).toISOString(),
    credentialCount: row.credentialCount,
    status,
  };
}

function toRevocableFilter(filter: BulkRevocationInput['filter']): RevocableFilter {
  const fields: RevocableFilter = {
    credentialIds: filter.credentialIds?.map((id) => id.toLowerCase()),
    agentIds: filter.agentIds?.map((id) => id.toLowerCase()),
    ownerId: filter.ownerId,
    environment: filter.environment,
    scopes: filter.scopes,
    products: filter.products,
    createdBefore: filter.createdBefore ? new Date(filter.createdBefore) : undefined,
    secretStore: filter.secretStore,
  };
  if (!Object.values(fields).some((v) => v !== undefined)) throw new EmptyRevocationFilterError();
  return fields;
}

/** The filter as the audit event keeps it: a long list of credential ids as its length (each credential's own event names it). */
function auditedFilter(filter: BulkRevocationInput['filter']): Record<string, unknown> {
  const { credentialIds, ...rest } = filter;
  return credentialIds ? { ...rest, credentialIds: credentialIds.length <= 100 ? credentialIds : { count: credentialIds.length } } : rest;
}

function propagationStatus(deliveries: GatewayPropagationDto[]): PropagationStatus {
  if (deliveries.some((d) => d.status === 'pending')) return 'propagating';
  return deliveries.some((d) => d.status === 'failed') ? 'failed' : 'complete';
}
