import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { Actor, assertOwnerAccess, assertOwnerRead, RequestContext, scopedOwnerFilter } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { definedOnly } from '../common/collections/defined-only';
import { GroupCommit } from '../common/db/group-commit';
import { isUniqueViolation } from '../common/db/pg-errors';
import { ConflictError, FieldError, ForbiddenError, InvalidInputError, NotFoundError } from '../common/errors/domain-error';
import { Page } from '../common/pagination/pagination';
import { RandomSource, randomUnit } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { EventOutboxService } from '../gateways/event-outbox.service';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';
import { AgentsService } from './agents.service';
import type { Credential } from './credential';
import { CredentialSecretsService } from './credential-secrets.service';
import { applyChanges, CredentialChanges, newCredential, strictSubsetProblem } from './credential-state';
import { credentialTermsEvent, describeCredential, toCredentialView } from './credential-views';
import { CredentialListFilter, CredentialsRepository, RevocableFilter, RotatedVersion } from './credentials.repository';
import { ClaimedSecretDto, CreateCredentialDto, CredentialDto, IssuedCredentialDto } from './dto/credential.dto';
import { AgentDecommissionedError, assertActive, assertNotRevoked } from './inventory-errors';
import { checkIpAllowlist } from './ip-allowlist';
import { checkJwks } from './jwks-policy';
import { ProductsService } from './products.service';
import { nextRotationAt } from './rotation-schedule';
import { addedPrivilegedScopes, checkScopes, isPrivileged, productsOf } from './scope-policy';

export type { RevocableFilter };

const DEFAULT_ROTATION_INTERVAL_DAYS = 90;
const DEFAULT_GRACE_PERIOD_HOURS = 24;

/** A new active credential whose secret is in its store, waiting for its commit. */
interface IssuedCredential {
  ctx: RequestContext;
  credential: Credential;
}

/** Issuances one transaction commits at most. */
const MAX_ISSUE_BATCH = 32;

/**
 * Credentials: the HTTP use cases (issue, read, list, change, claim), and
 * what other modules may do to a credential inside their own transaction
 * (lock it, revoke it, make a rotated version current, narrow its scopes for
 * a review). Approval of what waits for a second person is
 * CredentialApprovalsService's; the SQL is CredentialsRepository's.
 */
@Injectable()
export class CredentialsService {
  /** Issuances that reach their commit together share one transaction; each gets its own outcome. */
  private readonly issuances = new GroupCommit<IssuedCredential, Error | null>((items) => this.commitIssued(items), MAX_ISSUE_BATCH);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: CredentialsRepository,
    private readonly agents: AgentsService,
    private readonly products: ProductsService,
    private readonly stores: SecretStoreRegistry,
    private readonly secrets: CredentialSecretsService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
    private readonly outbox: EventOutboxService,
  ) {}

  /**
   * Issues a credential. Read/write scopes: active at once, and the secret is
   * returned here, once. Any delete/admin scope: pending_approval, no secret yet.
   * The secret is written to its store before the row, and removed again if the
   * row cannot be written, so a failure leaves neither half behind.
   */
  async create(ctx: RequestContext, input: CreateCredentialDto): Promise<IssuedCredentialDto> {
    const agent = await this.agents.find(input.agentId).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw InvalidInputError.field('agentId', 'does not name an existing agent');
      throw error;
    });
    assertOwnerAccess(ctx.actor, agent.ownerId, 'agent');
    if (agent.status !== 'active') {
      throw new AgentDecommissionedError('get new credentials');
    }
    const store = this.stores.resolve(input.secretStore);
    const rotationIntervalDays = input.rotationIntervalDays ?? Math.min(DEFAULT_ROTATION_INTERVAL_DAYS, this.maxInterval);
    const ipAllowlist = await this.checkPolicy({ scopes: input.scopes, ipAllowlist: input.ipAllowlist ?? [], rotationIntervalDays });

    const now = this.clock.now();
    const needsApproval = input.scopes.some(isPrivileged);
    const credential = newCredential(
      {
        id: this.random.uuid(),
        clientId: `agc_${this.random.bytes(16).toString('hex')}`,
        agentId: agent.id,
        ownerId: agent.ownerId,
        type: input.type,
        environment: input.environment,
        scopes: input.scopes,
        rateLimitRequests: input.rateLimit.requests,
        rateLimitPerSeconds: input.rateLimit.perSeconds,
        ipAllowlist: ipAllowlist!,
        secretStore: store.name,
        status: needsApproval ? 'pending_approval' : 'active',
        rotationIntervalDays,
        gracePeriodHours: input.gracePeriodHours ?? DEFAULT_GRACE_PERIOD_HOURS,
        requestedBy: ctx.actor.tokenId,
      },
      now,
    );

    if (needsApproval) {
      await this.dataSource.transaction(async (em) => {
        await this.repository.insert(em, [credential]);
        await this.audit.record(em, ctx, {
          action: 'credential.created',
          targetType: 'credential',
          targetId: credential.id,
          data: { ...describeCredential(credential), awaitingApprovalFor: input.scopes.filter(isPrivileged) },
        });
      });
      return { credential: toCredentialView(credential) };
    }

    const secret = await this.secrets.writeFirstVersion(store, credential, now);
    credential.secretDeliveredVersion = 1;
    const failure = await this.issuances.submit({ ctx, credential });
    if (failure) {
      await this.secrets.discard(store, credential);
      if (isUniqueViolation(failure)) throw new ConflictError('CREDENTIAL_CONFLICT', 'Credential id collision; retry.');
      throw failure;
    }
    return { credential: toCredentialView(credential), secret };
  }

  /**
   * Commits issued credentials in one transaction: their rows in one INSERT,
   * each one's `credential.issued` in the outbox, and their audit events (each
   * with its own actor and request id) in one append. If the batch fails,
   * each credential is committed again on its own, so only a bad one fails.
   */
  private async commitIssued(items: IssuedCredential[]): Promise<Array<Error | null>> {
    try {
      await this.dataSource.transaction(async (em) => {
        await this.repository.insert(
          em,
          items.map(({ credential }) => credential),
        );
        await this.outbox.publishMany(
          em,
          items.map(({ credential }) => credentialTermsEvent('credential.issued', credential)),
        );
        await this.audit.recordEach(
          em,
          items.map(({ ctx, credential }) => ({
            ctx,
            entry: {
              action: 'credential.created',
              targetType: 'credential',
              targetId: credential.id,
              data: describeCredential(credential),
            },
          })),
        );
      });
      return items.map(() => null);
    } catch (error) {
      if (items.length === 1) return [error instanceof Error ? error : new Error(String(error))];
      const outcomes: Array<Error | null> = [];
      for (const item of items) outcomes.push(...(await this.commitIssued([item])));
      return outcomes;
    }
  }

  async get(actor: Actor, id: string): Promise<CredentialDto> {
    const credential = await this.find(id);
    assertOwnerRead(actor, credential.ownerId, 'credential');
    return toCredentialView(credential);
  }

  /** Newest first by (createdAt, id). */
  async list(actor: Actor, query: CredentialListFilter): Promise<Page<CredentialDto>> {
    const page = await this.repository.list({ ...query, ownerId: scopedOwnerFilter(actor, query.ownerId) });
    return { items: page.items.map(toCredentialView), nextCursor: page.nextCursor };
  }

  /**
   * Changes scopes, rate limit, allowlist or rotation policy. A change that adds
   * a delete/admin scope is held as `pendingChange` until another admin
   * approves it; until then the current values stay in force.
   */
  async update(ctx: RequestContext, id: string, changes: CredentialChanges): Promise<{ credential: CredentialDto; pending: boolean }> {
    if (Object.values(changes).every((v) => v === undefined)) {
      throw InvalidInputError.field(
        'body',
        'must change at least one of scopes, rateLimit, ipAllowlist, rotationIntervalDays, gracePeriodHours, jwks',
      );
    }
    const checkedJwks = changes.jwks === undefined ? undefined : await checkJwks(changes.jwks);
    const normalized: CredentialChanges = {
      ...changes,
      ipAllowlist: await this.checkPolicy(changes, checkedJwks?.errors),
      jwks: checkedJwks?.normalized,
    };

    return this.dataSource.transaction(async (em) => {
      const credential = await this.lockForChange(em, id);
      assertOwnerAccess(ctx.actor, credential.ownerId, 'credential');
      assertActive(credential);
      if (credential.pendingChange) {
        throw new ConflictError('CHANGE_PENDING', 'A change of this credential awaits approval; approve or reject it first.');
      }
      if (normalized.jwks && credential.type !== 'oauth_client') {
        throw InvalidInputError.field('jwks', 'is only for oauth_client credentials (private_key_jwt client authentication)');
      }
      const now = this.clock.now();
      if (normalized.scopes && addedPrivilegedScopes(credential.scopes, normalized.scopes).length > 0) {
        if (normalized.jwks) {
          throw InvalidInputError.field(
            'jwks',
            'cannot be part of a change that awaits approval; register the keys in a request of their own',
          );
        }
        credential.pendingChange = { ...definedOnly(normalized), requestedBy: ctx.actor.tokenId, requestedAt: now.toISOString() };
        credential.updatedAt = now;
        await this.repository.savePendingChange(em, id, credential.pendingChange, now);
        await this.audit.record(em, ctx, {
          action: 'credential.change_requested',
          targetType: 'credential',
          targetId: id,
          data: { change: credential.pendingChange },
        });
        return { credential: toCredentialView(credential), pending: true };
      }
      const before = describeCredential(credential);
      applyChanges(credential, normalized, now, () => randomUnit(this.random));
      await this.saveUpdate(em, ctx, credential, {
        before,
        after: describeCredential(credential),
        ...(checkedJwks ? { jwks: checkedJwks.summary } : {}),
      });
      return { credential: toCredentialView(credential), pending: false };
    });
  }

  /**
   * Narrows an active credential's scopes to a non-empty strict subset of its
   * current ones, for an access-review decision, inside the caller's
   * transaction. Like PATCH, the gateways hear `credential.updated` (outbox)
   * and the audit log gets `credential.updated` (with `review` naming the
   * decision). A change awaiting approval is dropped: it was asked for on top
   * of scopes the owner has just decided to cut, so it cannot stand; the audit
   * event records what was dropped.
   */
  async reduceScopesInTransaction(
    em: EntityManager,
    ctx: RequestContext,
    id: string,
    scopes: string[],
    review: Record<string, unknown>,
  ): Promise<CredentialDto> {
    const credential = await this.lockForChange(em, id);
    assertOwnerAccess(ctx.actor, credential.ownerId, 'credential');
    assertActive(credential);
    const problem = strictSubsetProblem(scopes, credential.scopes);
    if (problem) throw InvalidInputError.field('scopes', problem);
    const before = describeCredential(credential);
    const droppedPendingChange = credential.pendingChange;
    const kept = new Set(scopes);
    credential.scopes = credential.scopes.filter((scope) => kept.has(scope));
    credential.pendingChange = null;
    credential.updatedAt = this.clock.now();
    await this.saveUpdate(em, ctx, credential, {
      before,
      after: describeCredential(credential),
      review,
      ...(droppedPendingChange ? { droppedPendingChange } : {}),
    });
    return toCredentialView(credential);
  }

  /**
   * The requester collects the secret of the current version once, after an
   * approval (or a rotation). Every later claim of that version is a 409.
   */
  async claim(ctx: RequestContext, id: string): Promise<ClaimedSecretDto> {
    return this.dataSource.transaction(async (em) => {
      const credential = await this.lockForChange(em, id);
      assertOwnerRead(ctx.actor, credential.ownerId, 'credential');
      if (ctx.actor.tokenId !== credential.requestedBy) {
        throw new ForbiddenError('NOT_REQUESTER', 'Only the token that requested this credential may claim its secret.');
      }
      assertActive(credential);
      const version = credential.secretVersion!;
      if ((credential.secretDeliveredVersion ?? 0) >= version) {
        throw new ConflictError('SECRET_ALREADY_CLAIMED', `The secret of version ${version} was already handed out.`);
      }
      const secret = await this.secrets.readCurrent(credential);
      await this.repository.markDelivered(em, id, version, this.clock.now());
      await this.audit.record(em, ctx, {
        action: 'credential.claimed',
        targetType: 'credential',
        targetId: id,
        data: { secretVersion: version },
      });
      return { secret, secretVersion: version };
    });
  }

  /** The credential with this OAuth client id, or null (the token endpoint's client lookup). */
  findByClientId(clientId: string): Promise<Credential | null> {
    return this.repository.findByClientId(clientId);
  }

  async find(id: string): Promise<Credential> {
    const credential = await this.repository.findById(id);
    if (!credential) throw new NotFoundError('credential', id);
    return credential;
  }

  /** The id of the credential whose current secret has this SHA-256 (hex), if any: for recognising a reported leak. */
  idBySecretSha256(em: EntityManager, sha256: string): Promise<string | null> {
    return this.repository.idBySecretSha256(em, sha256);
  }

  /** Loads a credential row-locked for a state change in the caller's transaction. */
  async lockForChange(em: EntityManager, id: string): Promise<Credential> {
    const credential = await this.repository.lockForChange(em, id);
    if (!credential) throw new NotFoundError('credential', id);
    return credential;
  }

  /**
   * Locks several credentials for a state change in the caller's transaction,
   * in id order (so concurrent batches, and revocations, cannot deadlock).
   * Unknown ids are simply absent from the result.
   */
  lockManyForChange(em: EntityManager, ids: string[]): Promise<Credential[]> {
    return this.repository.lockManyForChange(em, ids);
  }

  /**
   * As `lockManyForChange`, but never waits: a credential another transaction
   * holds is absent from the result, like an unknown one (group-committed
   * revocations leave it to a transaction of its own, so one held row does
   * not hold up the whole group).
   */
  lockManyForChangeUnlessHeld(em: EntityManager, ids: string[]): Promise<Credential[]> {
    return this.repository.lockManyForChange(em, ids, true);
  }

  /** The revocable credentials (active or awaiting approval) a bulk revocation's filter matches, in id order: up to `limit`, and the total. */
  revocableMatching(filter: RevocableFilter, limit: number): Promise<{ total: number; matches: Array<{ id: string; ownerId: string }> }> {
    return this.repository.revocableMatching(filter, limit);
  }

  /** Locks every credential of an agent that is not yet revoked, in id order, in the caller's transaction. */
  lockUnrevokedOfAgent(em: EntityManager, agentId: string): Promise<Credential[]> {
    return this.repository.lockUnrevokedOfAgent(em, agentId);
  }

  /**
   * Revokes credentials locked by the caller, inside the caller's transaction
   * (the revocation service writes its record, events and audit entries). A
   * revoked credential never changes again; a change awaiting approval is dropped.
   */
  async markRevoked(em: EntityManager, credentials: Credential[], at: Date, reason: string): Promise<void> {
    for (const credential of credentials) assertNotRevoked(credential);
    for (const credential of credentials) {
      Object.assign(credential, {
        status: 'revoked',
        revokedAt: at,
        revokedReason: reason,
        pendingChange: null,
        nextRotationAt: null,
        updatedAt: at,
      });
    }
    await this.repository.markRevoked(
      em,
      credentials.map((c) => c.id),
      at,
      reason,
    );
  }

  /** As `markRevoked`, each credential with its own time and reason, in one statement (revocations committed together). */
  async markRevokedEach(em: EntityManager, changes: Array<{ credential: Credential; at: Date; reason: string }>): Promise<void> {
    for (const { credential } of changes) assertNotRevoked(credential);
    for (const { credential, at, reason } of changes) {
      Object.assign(credential, {
        status: 'revoked',
        revokedAt: at,
        revokedReason: reason,
        pendingChange: null,
        nextRotationAt: null,
        updatedAt: at,
      });
    }
    await this.repository.markRevokedEach(
      em,
      changes.map(({ credential, at, reason }) => ({ id: credential.id, at, reason })),
    );
  }

  /** The latest use of each credential seen by verification (`lastUsedAt`, `lastUsedIp`); never moves them back. */
  recordLastUse(em: EntityManager, uses: Array<{ id: string; at: Date; ip: string | null }>): Promise<void> {
    return this.repository.recordLastUse(em, uses);
  }

  /**
   * Makes rotated versions current, in one statement, inside the rotation's
   * transaction, on credentials the caller locked (lockManyForChange) and
   * found active at each `fromVersion`: reference, store version id and
   * SHA-256, `lastRotatedAt`, and `nextRotationAt` one interval (less jitter)
   * from now. Returns the credentials as updated. The new version becomes
   * claimable once by the requester (its number is above `secretDeliveredVersion`).
   */
  async applyRotatedVersions(
    em: EntityManager,
    changes: Array<{ credential: Credential; fromVersion: number; toVersion: number; versionId: string; sha256: string; ref: string }>,
  ): Promise<Credential[]> {
    if (changes.length === 0) return [];
    for (const { credential, fromVersion } of changes) {
      if (credential.status !== 'active' || credential.secretVersion !== fromVersion) {
        throw new Error(`credential ${credential.id} is not active at version ${fromVersion}; lock and check it first`);
      }
    }
    const now = this.clock.now();
    const versions: RotatedVersion[] = changes.map(({ credential, ...version }) => ({
      ...version,
      id: credential.id,
      nextRotationAt: nextRotationAt(now, credential.rotationIntervalDays, randomUnit(this.random)),
    }));
    const updated = await this.repository.applyRotatedVersions(em, versions, now);
    if (updated !== changes.length)
      throw new Error(`applied ${updated} of ${changes.length} rotated versions; the credentials were not locked`);
    return changes.map((c, i) => ({
      ...c.credential,
      secretVersion: c.toVersion,
      secretVersionId: c.versionId,
      secretSha256: c.sha256,
      secretRef: c.ref,
      lastRotatedAt: now,
      nextRotationAt: versions[i].nextRotationAt,
      updatedAt: now,
    }));
  }

  /** A change in force: saved, the gateways hear `credential.updated` (outbox), the audit log gets `credential.updated` with `data`. */
  private async saveUpdate(em: EntityManager, ctx: RequestContext, credential: Credential, data: Record<string, unknown>): Promise<void> {
    await this.repository.saveChanges(em, credential);
    await this.outbox.publish(em, credentialTermsEvent('credential.updated', credential));
    await this.audit.record(em, ctx, { action: 'credential.updated', targetType: 'credential', targetId: credential.id, data });
  }

  private get maxInterval(): number {
    return this.config.policy.maxRotationIntervalDays;
  }

  /**
   * Refuses a requested policy with every field error at once (scopes against
   * the catalog, the allowlist, the interval against the configured maximum);
   * returns the allowlist normalized, when one was given.
   */
  private async checkPolicy(
    policy: {
      scopes?: string[];
      ipAllowlist?: string[];
      rotationIntervalDays?: number;
    },
    otherErrors: FieldError[] = [],
  ): Promise<string[] | undefined> {
    const errors: FieldError[] = [...otherErrors];
    if (policy.scopes) errors.push(...checkScopes(policy.scopes, await this.products.catalogFor(productsOf(policy.scopes))));
    const allowlist = policy.ipAllowlist ? checkIpAllowlist(policy.ipAllowlist) : undefined;
    if (allowlist) errors.push(...allowlist.errors);
    if (policy.rotationIntervalDays !== undefined && policy.rotationIntervalDays > this.maxInterval) {
      errors.push({ field: 'rotationIntervalDays', message: `must be at most ${this.maxInterval} (the configured maximum)` });
    }
    if (errors.length) throw new InvalidInputError(errors);
    return allowlist?.normalized;
  }
}
