import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { Actor, assertOwnerAccess, assertOwnerRead, RequestContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { chunks } from '../common/collections/chunks';
import { GroupCommit } from '../common/db/group-commit';
import { preparedQuery } from '../common/db/prepared-query';
import { isUniqueViolation } from '../common/db/pg-errors';
import {
  ConflictError,
  DependencyUnavailableError,
  FieldError,
  ForbiddenError,
  InvalidInputError,
  NotFoundError,
} from '../common/errors/domain-error';
import { decodeTimeCursor, DEFAULT_PAGE_SIZE, encodeTimeCursor, Page, toPage } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { AppConfig, SecretStoreName } from '../config/app-config';
import { EventOutbox, OutboxEventInput } from '../gateways/event-outbox.service';
import { SecretStore, SecretTarget } from '../secret-stores/secret-store';
import { SecretStoreRegistry } from '../secret-stores/secret-store.registry';
import { AgentsService, scopedOwnerFilter } from './agents.service';
import { CREDENTIAL_BY_ID, CREDENTIAL_COLUMNS, credentialFromRow, CredentialRow, credentialRowValues, INSERT_CREDENTIAL_SQL, insertCredentialsSql } from './credential-rows';
import { formatSecret, SECRET_RANDOM_BYTES } from './credential-secret';
import {
  CredentialEntity,
  CredentialStatus,
  CredentialType,
  Environment,
  PendingCredentialChange,
} from './entities/credential.entity';
import { checkIpAllowlist } from './ip-allowlist';
import { ProductsService } from './products.service';
import { nextRotationAt } from './rotation-schedule';
import { addedPrivilegedScopes, checkScopes, isPrivileged, productsOf } from './scope-policy';

export interface RateLimit {
  requests: number;
  perSeconds: number;
}

export interface CredentialView {
  id: string;
  clientId: string;
  agentId: string;
  ownerId: string;
  type: CredentialType;
  environment: Environment;
  scopes: string[];
  rateLimit: RateLimit;
  ipAllowlist: string[];
  secretStore: SecretStoreName;
  secretRef: string | null;
  secretVersion: number | null;
  status: CredentialStatus;
  rotationIntervalDays: number;
  gracePeriodHours: number;
  lastRotatedAt: string | null;
  nextRotationAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
  updatedAt: string;
  revokedAt: string | null;
  revokedReason: string | null;
  requestedBy: string;
  approvedBy: string | null;
  pendingChange: (PendingCredentialChange & { status: 'pending_approval' }) | null;
}

export interface CreateCredentialInput {
  agentId: string;
  type: CredentialType;
  environment: Environment;
  scopes: string[];
  rateLimit: RateLimit;
  ipAllowlist?: string[];
  secretStore?: string;
  rotationIntervalDays?: number;
  gracePeriodHours?: number;
}

export interface CredentialChanges {
  scopes?: string[];
  rateLimit?: RateLimit;
  ipAllowlist?: string[];
  rotationIntervalDays?: number;
  gracePeriodHours?: number;
}

export interface CredentialListQuery {
  agentId?: string;
  ownerId?: string;
  status?: CredentialStatus;
  environment?: Environment;
  dueBefore?: Date;
  limit?: number;
  cursor?: string;
}

const DEFAULT_ROTATION_INTERVAL_DAYS = 90;
const DEFAULT_GRACE_PERIOD_HOURS = 24;

/** The event that tells the gateways about a credential's current terms. */
function issuedOrUpdated(type: 'credential.issued' | 'credential.updated', credential: CredentialEntity): OutboxEventInput {
  return { type, credentialId: credential.id, environment: credential.environment, data: credentialEventData(credential) };
}

/** A new active credential whose secret is in its store, waiting for its commit. */
interface IssuedCredential {
  ctx: RequestContext;
  credential: CredentialEntity;
}

/** Credentials one lock or revoke statement names at most. */
const LOCK_CHUNK = 1000;

/** Issuances one transaction commits at most. */
const MAX_ISSUE_BATCH = 32;

@Injectable()
export class CredentialsService {
  private readonly logger = new Logger(CredentialsService.name);
  /** Issuances that reach their commit together share one transaction; each gets its own outcome. */
  private readonly issuances = new GroupCommit<IssuedCredential, Error | null>((items) => this.commitIssued(items), MAX_ISSUE_BATCH);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly agents: AgentsService,
    private readonly products: ProductsService,
    private readonly stores: SecretStoreRegistry,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
    private readonly outbox: EventOutbox,
  ) {}

  /**
   * Issues a credential. Read/write scopes: active at once, and the secret is
   * returned here, once. Any delete/admin scope: pending_approval, no secret yet.
   * The secret is written to its store before the row, and removed again if the
   * row cannot be written, so a failure leaves neither half behind.
   */
  async create(ctx: RequestContext, input: CreateCredentialInput): Promise<{ credential: CredentialView; secret?: string }> {
    const agent = await this.agents.find(input.agentId).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw InvalidInputError.field('agentId', 'does not name an existing agent');
      throw error;
    });
    assertOwnerAccess(ctx.actor, agent.ownerId, 'agent');
    if (agent.status !== 'active') {
      throw new ConflictError('AGENT_DECOMMISSIONED', 'A decommissioned agent cannot get new credentials.');
    }
    const store = this.stores.resolve(input.secretStore);
    const errors: FieldError[] = [];
    errors.push(...(await this.scopeErrors(input.scopes)));
    const allowlist = checkIpAllowlist(input.ipAllowlist ?? []);
    errors.push(...allowlist.errors);
    const rotationIntervalDays = input.rotationIntervalDays ?? Math.min(DEFAULT_ROTATION_INTERVAL_DAYS, this.maxInterval);
    errors.push(...this.intervalErrors(rotationIntervalDays));
    if (errors.length) throw new InvalidInputError(errors);

    const now = this.clock.now();
    const needsApproval = input.scopes.some(isPrivileged);
    const credential: CredentialEntity = {
      id: this.random.uuid(),
      clientId: `agc_${this.random.bytes(16).toString('hex')}`,
      agentId: agent.id,
      ownerId: agent.ownerId,
      type: input.type,
      environment: input.environment,
      scopes: input.scopes,
      rateLimitRequests: input.rateLimit.requests,
      rateLimitPerSeconds: input.rateLimit.perSeconds,
      ipAllowlist: allowlist.normalized,
      secretStore: store.name,
      secretRef: null,
      secretVersion: null,
      secretVersionId: null,
      secretSha256: null,
      secretDeliveredVersion: null,
      status: needsApproval ? 'pending_approval' : 'active',
      rotationIntervalDays,
      gracePeriodHours: input.gracePeriodHours ?? DEFAULT_GRACE_PERIOD_HOURS,
      lastRotatedAt: null,
      nextRotationAt: null,
      lastUsedAt: null,
      requestedBy: ctx.actor.tokenId,
      approvedBy: null,
      approvedAt: null,
      pendingChange: null,
      createdAt: now,
      updatedAt: now,
      revokedAt: null,
      revokedReason: null,
    };

    if (needsApproval) {
      await this.dataSource.transaction(async (em) => {
        await em.query(INSERT_CREDENTIAL_SQL, credentialRowValues(credential));
        await this.audit.record(em, ctx, {
          action: 'credential.created',
          targetType: 'credential',
          targetId: credential.id,
          data: { ...describe(credential), awaitingApprovalFor: input.scopes.filter(isPrivileged) },
        });
      });
      return { credential: toCredentialView(credential) };
    }

    const secret = await this.writeFirstVersion(store, credential, now);
    credential.secretDeliveredVersion = 1;
    const failure = await this.issuances.submit({ ctx, credential });
    if (failure) {
      await this.discardSecret(store, credential);
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
        await em.query(
          insertCredentialsSql(items.length),
          items.flatMap(({ credential }) => credentialRowValues(credential)),
        );
        await this.outbox.publishMany(
          em,
          items.map(({ credential }) => issuedOrUpdated('credential.issued', credential)),
        );
        await this.audit.recordEach(
          em,
          items.map(({ ctx, credential }) => ({
            ctx,
            entry: { action: 'credential.created', targetType: 'credential', targetId: credential.id, data: describe(credential) },
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

  async get(actor: Actor, id: string): Promise<CredentialView> {
    const credential = await this.find(id);
    assertOwnerRead(actor, credential.ownerId, 'credential');
    return toCredentialView(credential);
  }

  /** Newest first by (createdAt, id); every filter has an index that serves this order. */
  async list(actor: Actor, query: CredentialListQuery): Promise<Page<CredentialView>> {
    const ownerId = scopedOwnerFilter(actor, query.ownerId);
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeTimeCursor(query.cursor);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (condition: (next: string) => string, ...values: unknown[]) => {
      params.push(...values);
      where.push(condition(`$${params.length - values.length + 1}`));
    };
    if (ownerId) add((p) => `owner_id = ${p}`, ownerId);
    if (query.agentId) add((p) => `agent_id = ${p}`, query.agentId);
    if (query.status) add((p) => `status = ${p}`, query.status);
    if (query.environment) add((p) => `environment = ${p}`, query.environment);
    if (query.dueBefore) add((p) => `next_rotation_at < ${p}`, query.dueBefore);
    if (after) add((p) => `(created_at, id) < (${p}, $${params.length})`, after.createdAt, after.id);
    params.push(limit + 1);
    const rows: CredentialRow[] = await this.dataSource.query(
      `SELECT ${CREDENTIAL_COLUMNS} FROM credentials
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return toPage(rows, limit, (row) => encodeTimeCursor({ createdAt: row.created_at, id: row.id }), (row) =>
      toCredentialView(credentialFromRow(row)),
    );
  }

  /**
   * Changes scopes, rate limit, allowlist or rotation policy. A change that adds
   * a delete/admin scope is held as `pendingChange` until another admin
   * approves it; until then the current values stay in force.
   */
  async update(ctx: RequestContext, id: string, changes: CredentialChanges): Promise<{ credential: CredentialView; pending: boolean }> {
    if (Object.values(changes).every((v) => v === undefined)) {
      throw InvalidInputError.field('body', 'must change at least one of scopes, rateLimit, ipAllowlist, rotationIntervalDays, gracePeriodHours');
    }
    const errors: FieldError[] = [];
    if (changes.scopes) errors.push(...(await this.scopeErrors(changes.scopes)));
    let ipAllowlist: string[] | undefined;
    if (changes.ipAllowlist) {
      const checked = checkIpAllowlist(changes.ipAllowlist);
      errors.push(...checked.errors);
      ipAllowlist = checked.normalized;
    }
    if (changes.rotationIntervalDays !== undefined) errors.push(...this.intervalErrors(changes.rotationIntervalDays));
    if (errors.length) throw new InvalidInputError(errors);
    const normalized: CredentialChanges = { ...changes, ipAllowlist };

    return this.dataSource.transaction(async (em) => {
      const credential = await this.lockForChange(em, id);
      assertOwnerAccess(ctx.actor, credential.ownerId, 'credential');
      assertActive(credential);
      if (credential.pendingChange) {
        throw new ConflictError('CHANGE_PENDING', 'A change of this credential awaits approval; approve or reject it first.');
      }
      const now = this.clock.now();
      if (normalized.scopes && addedPrivilegedScopes(credential.scopes, normalized.scopes).length > 0) {
        credential.pendingChange = { ...stripUndefined(normalized), requestedBy: ctx.actor.tokenId, requestedAt: now.toISOString() };
        credential.updatedAt = now;
        await em.update(CredentialEntity, { id }, { pendingChange: credential.pendingChange, updatedAt: now });
        await this.audit.record(em, ctx, {
          action: 'credential.change_requested',
          targetType: 'credential',
          targetId: id,
          data: { change: credential.pendingChange },
        });
        return { credential: toCredentialView(credential), pending: true };
      }
      const before = describe(credential);
      this.applyChanges(credential, normalized, now);
      await this.saveChanges(em, credential);
      await this.publish(em, 'credential.updated', credential);
      await this.audit.record(em, ctx, {
        action: 'credential.updated',
        targetType: 'credential',
        targetId: id,
        data: { before, after: describe(credential) },
      });
      return { credential: toCredentialView(credential), pending: false };
    });
  }

  /**
   * Second-person approval of a pending credential (its secret is created now)
   * or of a pending change. The approver must be an admin other than the requester.
   */
  async approve(ctx: RequestContext, id: string): Promise<CredentialView> {
    let written: { store: SecretStore; credential: CredentialEntity } | null = null;
    try {
      return await this.dataSource.transaction(async (em) => {
        const credential = await this.lockForChange(em, id);
        assertNotRevoked(credential);
        const now = this.clock.now();
        if (credential.status === 'pending_approval') {
          assertNotRequester(ctx.actor, credential.requestedBy);
          const store = this.stores.get(credential.secretStore);
          await this.writeFirstVersion(store, credential, now);
          written = { store, credential };
          credential.status = 'active';
          credential.approvedBy = ctx.actor.tokenId;
          credential.approvedAt = now;
          credential.updatedAt = now;
          await em.update(CredentialEntity, { id }, {
            status: credential.status,
            approvedBy: credential.approvedBy,
            approvedAt: now,
            secretRef: credential.secretRef,
            secretVersion: credential.secretVersion,
            secretVersionId: credential.secretVersionId,
            secretSha256: credential.secretSha256,
            nextRotationAt: credential.nextRotationAt,
            updatedAt: now,
          });
          await this.publish(em, 'credential.issued', credential);
          await this.audit.record(em, ctx, {
            action: 'credential.approved',
            targetType: 'credential',
            targetId: id,
            data: { scopes: credential.scopes, requestedBy: credential.requestedBy, secretVersion: credential.secretVersion },
          });
          return toCredentialView(credential);
        }
        const change = credential.pendingChange;
        if (credential.status === 'active' && change) {
          assertNotRequester(ctx.actor, change.requestedBy);
          const before = describe(credential);
          this.applyChanges(credential, change, now);
          credential.pendingChange = null;
          await this.saveChanges(em, credential);
          await this.publish(em, 'credential.updated', credential);
          await this.audit.record(em, ctx, {
            action: 'credential.change_approved',
            targetType: 'credential',
            targetId: id,
            data: { requestedBy: change.requestedBy, before, after: describe(credential) },
          });
          return toCredentialView(credential);
        }
        throw new ConflictError('NOTHING_TO_APPROVE', 'This credential has nothing awaiting approval.');
      });
    } catch (error) {
      // The transaction did not commit, so a secret written for it must not survive.
      const orphan = written as { store: SecretStore; credential: CredentialEntity } | null;
      if (orphan) await this.discardSecret(orphan.store, orphan.credential);
      throw error;
    }
  }

  /** Rejects a pending credential (it becomes `rejected`) or a pending change (it is dropped). */
  async reject(ctx: RequestContext, id: string): Promise<CredentialView> {
    return this.dataSource.transaction(async (em) => {
      const credential = await this.lockForChange(em, id);
      assertNotRevoked(credential);
      const now = this.clock.now();
      if (credential.status === 'pending_approval') {
        credential.status = 'rejected';
        credential.updatedAt = now;
        await em.update(CredentialEntity, { id }, { status: 'rejected', updatedAt: now });
        await this.audit.record(em, ctx, {
          action: 'credential.rejected',
          targetType: 'credential',
          targetId: id,
          data: { requestedBy: credential.requestedBy, scopes: credential.scopes },
        });
        return toCredentialView(credential);
      }
      const change = credential.pendingChange;
      if (credential.status === 'active' && change) {
        credential.pendingChange = null;
        credential.updatedAt = now;
        await em.update(CredentialEntity, { id }, { pendingChange: null, updatedAt: now });
        await this.audit.record(em, ctx, {
          action: 'credential.change_rejected',
          targetType: 'credential',
          targetId: id,
          data: { change },
        });
        return toCredentialView(credential);
      }
      throw new ConflictError('NOTHING_TO_REJECT', 'This credential has nothing awaiting approval.');
    });
  }

  /**
   * The credentials of an access-review scope as one SELECT, for set-based
   * copies: a campaign snapshots 100,000 credentials in one INSERT ... SELECT
   * and settles expired items in one UPDATE ... FROM. Reviews never name
   * inventory tables; they see only these columns: credential_id, client_id,
   * agent_id, agent_name, owner_id, environment, status, scopes,
   * rate_limit_requests, rate_limit_per_seconds, ip_allowlist, last_used_at,
   * last_rotated_at, next_rotation_at, created_at, revoked_at. Placeholders are
   * numbered from `firstParam`, so the caller's own come first.
   */
  reviewSource(
    scope: { activeOnly: boolean; environment?: Environment | null; ownerIds?: string[] | null },
    firstParam: number,
  ): { sql: string; params: unknown[] } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (scope.activeOnly) where.push(`c.status = 'active'`);
    if (scope.environment) {
      params.push(scope.environment);
      where.push(`c.environment = $${firstParam + params.length - 1}`);
    }
    if (scope.ownerIds) {
      params.push(scope.ownerIds);
      where.push(`c.owner_id = ANY ($${firstParam + params.length - 1}::uuid[])`);
    }
    const sql = `SELECT c.id AS credential_id, c.client_id, c.agent_id, a.name AS agent_name, c.owner_id, c.environment,
         c.status, c.scopes, c.rate_limit_requests, c.rate_limit_per_seconds, c.ip_allowlist, c.last_used_at,
         c.last_rotated_at, c.next_rotation_at, c.created_at, c.revoked_at
       FROM credentials c JOIN agents a ON a.id = c.agent_id${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
    return { sql, params };
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
  ): Promise<CredentialView> {
    const credential = await this.lockForChange(em, id);
    assertOwnerAccess(ctx.actor, credential.ownerId, 'credential');
    assertActive(credential);
    const problem = strictSubsetProblem(scopes, credential.scopes);
    if (problem) throw InvalidInputError.field('scopes', problem);
    const before = describe(credential);
    const droppedPendingChange = credential.pendingChange;
    const kept = new Set(scopes);
    credential.scopes = credential.scopes.filter((scope) => kept.has(scope));
    credential.pendingChange = null;
    credential.updatedAt = this.clock.now();
    await this.saveChanges(em, credential);
    await this.publish(em, 'credential.updated', credential);
    await this.audit.record(em, ctx, {
      action: 'credential.updated',
      targetType: 'credential',
      targetId: id,
      data: { before, after: describe(credential), review, ...(droppedPendingChange ? { droppedPendingChange } : {}) },
    });
    return toCredentialView(credential);
  }

  /**
   * The requester collects the secret of the current version once, after an
   * approval (or a rotation). Every later claim of that version is a 409.
   */
  async claim(ctx: RequestContext, id: string): Promise<{ secret: string; secretVersion: number }> {
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
      const store = this.stores.get(credential.secretStore);
      const secret = await store.readVersion(targetOf(credential), credential.secretVersionId!);
      if (!sameDigest(sha256(secret), credential.secretSha256!)) {
        throw new DependencyUnavailableError('SECRET_MISMATCH', 'The secret store returned a secret that does not match the inventory.');
      }
      await em.update(CredentialEntity, { id }, { secretDeliveredVersion: version, updatedAt: this.clock.now() });
      await this.audit.record(em, ctx, {
        action: 'credential.claimed',
        targetType: 'credential',
        targetId: id,
        data: { secretVersion: version },
      });
      return { secret, secretVersion: version };
    });
  }

  /** Loads a credential row-locked for a state change in the caller's transaction. */
  async lockForChange(em: EntityManager, id: string): Promise<CredentialEntity> {
    // Plain SQL, as find() and lockManyForChange: every change and revocation starts here.
    const rows: CredentialRow[] = await em.query(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = $1 FOR UPDATE`, [id]);
    if (rows.length === 0) throw new NotFoundError('credential', id);
    return credentialFromRow(rows[0]);
  }

  /**
   * Locks every credential of an agent that is not yet revoked, in id order (so
   * concurrent revocations cannot deadlock), in the caller's transaction.
   */
  async lockUnrevokedOfAgent(em: EntityManager, agentId: string): Promise<CredentialEntity[]> {
    return em
      .createQueryBuilder(CredentialEntity, 'c')
      .setLock('pessimistic_write')
      .where("c.agent_id = :agentId AND c.status <> 'revoked'", { agentId })
      .orderBy('c.id', 'ASC')
      .getMany();
  }

  /**
   * Revokes credentials locked by the caller, inside the caller's transaction
   * (the revocation service writes its record, events and audit entries), in
   * one UPDATE per thousand. A revoked credential never changes again; a
   * change awaiting approval is dropped.
   */
  async markRevoked(em: EntityManager, credentials: CredentialEntity[], at: Date, reason: string): Promise<void> {
    for (const credential of credentials) assertNotRevoked(credential);
    for (const credential of credentials) {
      Object.assign(credential, { status: 'revoked', revokedAt: at, revokedReason: reason, pendingChange: null, nextRotationAt: null, updatedAt: at });
    }
    for (const chunk of chunks(credentials.map((c) => c.id), LOCK_CHUNK)) {
      await em.query(
        `UPDATE credentials SET status = 'revoked', revoked_at = $2, revoked_reason = $3, pending_change = NULL, next_rotation_at = NULL, updated_at = $2
          WHERE id = ANY ($1::uuid[])`,
        [chunk, at, reason],
      );
    }
  }

  /**
   * Active credentials whose next rotation is due by `dueBy`, as one SELECT,
   * for the rotation sweep's set-based INSERT ... SELECT (one statement per
   * batch, served by credentials_due_idx). Rotation never names inventory
   * tables; it sees only these columns: credential_id, agent_id, owner_id,
   * environment, secret_store, secret_version, secret_version_id,
   * next_rotation_at. Placeholders are numbered from `firstParam`.
   */
  dueForRotationSource(dueBy: Date, firstParam: number): { sql: string; params: unknown[] } {
    return {
      sql: `SELECT c.id AS credential_id, c.agent_id, c.owner_id, c.environment, c.secret_store, c.secret_version,
                   c.secret_version_id, c.secret_sha256, c.next_rotation_at
              FROM credentials c
             WHERE c.status = 'active' AND c.next_rotation_at <= $${firstParam}`,
      params: [dueBy],
    };
  }

  /**
   * Locks several credentials for a state change in the caller's transaction,
   * in id order (so concurrent batches, and revocations, cannot deadlock), in
   * one statement per thousand. Unknown ids are simply absent from the result.
   */
  async lockManyForChange(em: EntityManager, ids: string[]): Promise<CredentialEntity[]> {
    const locked: CredentialEntity[] = [];
    // Lower-case uuids sort as Postgres orders uuids (by their bytes), so each chunk's locks follow the last one's.
    for (const chunk of chunks([...new Set(ids.map((id) => id.toLowerCase()))].sort(), LOCK_CHUNK)) {
      const rows: CredentialRow[] = await em.query(
        `SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE`,
        [chunk],
      );
      locked.push(...rows.map(credentialFromRow));
    }
    return locked;
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
    changes: Array<{ credential: CredentialEntity; fromVersion: number; toVersion: number; versionId: string; sha256: string; ref: string }>,
  ): Promise<CredentialEntity[]> {
    if (changes.length === 0) return [];
    for (const { credential, fromVersion } of changes) {
      if (credential.status !== 'active' || credential.secretVersion !== fromVersion) {
        throw new Error(`credential ${credential.id} is not active at version ${fromVersion}; lock and check it first`);
      }
    }
    const now = this.clock.now();
    const next = changes.map((c) => nextRotationAt(now, c.credential.rotationIntervalDays, this.random.int(0, 1_000_000) / 1_000_000));
    const [, updated]: [unknown, number] = await em.query(
      `UPDATE credentials c
          SET secret_version = i.to_version, secret_version_id = i.version_id, secret_sha256 = i.sha256, secret_ref = i.ref,
              last_rotated_at = $8, next_rotation_at = i.next_at, updated_at = $8
         FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
              AS i(id, from_version, to_version, version_id, sha256, ref, next_at)
        WHERE c.id = ANY ($1::uuid[]) AND c.id = i.id AND c.status = 'active' AND c.secret_version = i.from_version`,
      [
        changes.map((c) => c.credential.id),
        changes.map((c) => c.fromVersion),
        changes.map((c) => c.toVersion),
        changes.map((c) => c.versionId),
        changes.map((c) => c.sha256),
        changes.map((c) => c.ref),
        next,
        now,
      ],
    );
    if (updated !== changes.length) throw new Error(`applied ${updated} of ${changes.length} rotated versions; the credentials were not locked`);
    return changes.map((c, i) => ({
      ...c.credential,
      secretVersion: c.toVersion,
      secretVersionId: c.versionId,
      secretSha256: c.sha256,
      secretRef: c.ref,
      lastRotatedAt: now,
      nextRotationAt: next[i],
      updatedAt: now,
    }));
  }

  async find(id: string): Promise<CredentialEntity> {
    const rows = await preparedQuery<CredentialRow>(this.dataSource, CREDENTIAL_BY_ID, [id]);
    if (rows.length === 0) throw new NotFoundError('credential', id);
    return credentialFromRow(rows[0]);
  }

  /** Tells the gateways serving the credential's environment, in this transaction (outbox). */
  private async publish(em: EntityManager, type: 'credential.issued' | 'credential.updated', credential: CredentialEntity): Promise<void> {
    await this.outbox.publish(em, issuedOrUpdated(type, credential));
  }

  private get maxInterval(): number {
    return this.config.policy.maxRotationIntervalDays;
  }

  private intervalErrors(days: number): FieldError[] {
    return days > this.maxInterval
      ? [{ field: 'rotationIntervalDays', message: `must be at most ${this.maxInterval} (the configured maximum)` }]
      : [];
  }

  private async scopeErrors(scopes: string[]): Promise<FieldError[]> {
    const catalog = await this.products.catalogFor(productsOf(scopes));
    return checkScopes(scopes, catalog);
  }

  /** Generates the first secret, writes it to the store and records where it lives on the entity. */
  private async writeFirstVersion(store: SecretStore, credential: CredentialEntity, now: Date): Promise<string> {
    const secret = formatSecret(credential.environment, this.random.bytes(SECRET_RANDOM_BYTES));
    const stored = await store
      .writeVersion({ target: targetOf(credential), version: 1, requestToken: credential.id, secret })
      .catch(async (error: unknown) => {
        // A write whose answers were all lost may still have landed; no row will point at it, so remove it.
        await this.discardSecret(store, credential);
        throw error;
      });
    credential.secretRef = stored.ref;
    credential.secretVersion = 1;
    credential.secretVersionId = stored.versionId;
    credential.secretSha256 = sha256(secret);
    credential.nextRotationAt = nextRotationAt(now, credential.rotationIntervalDays, this.random.int(0, 1_000_000) / 1_000_000);
    return secret;
  }

  private async discardSecret(store: SecretStore, credential: CredentialEntity): Promise<void> {
    try {
      await store.deleteAll(targetOf(credential));
    } catch (error) {
      this.logger.error(
        { credentialId: credential.id, store: store.name, err: (error as Error).message },
        'could not remove the secret of a credential that was not saved; remove it from the store by hand',
      );
    }
  }

  private applyChanges(credential: CredentialEntity, changes: CredentialChanges, now: Date): void {
    if (changes.scopes) credential.scopes = changes.scopes;
    if (changes.rateLimit) {
      credential.rateLimitRequests = changes.rateLimit.requests;
      credential.rateLimitPerSeconds = changes.rateLimit.perSeconds;
    }
    if (changes.ipAllowlist) credential.ipAllowlist = changes.ipAllowlist;
    if (changes.gracePeriodHours !== undefined) credential.gracePeriodHours = changes.gracePeriodHours;
    if (changes.rotationIntervalDays !== undefined && changes.rotationIntervalDays !== credential.rotationIntervalDays) {
      credential.rotationIntervalDays = changes.rotationIntervalDays;
      const from = credential.lastRotatedAt ?? credential.approvedAt ?? credential.createdAt;
      credential.nextRotationAt = nextRotationAt(from, changes.rotationIntervalDays, this.random.int(0, 1_000_000) / 1_000_000);
    }
    credential.updatedAt = now;
  }

  private async saveChanges(em: EntityManager, credential: CredentialEntity): Promise<void> {
    await em.update(CredentialEntity, { id: credential.id }, {
      scopes: credential.scopes,
      rateLimitRequests: credential.rateLimitRequests,
      rateLimitPerSeconds: credential.rateLimitPerSeconds,
      ipAllowlist: credential.ipAllowlist,
      rotationIntervalDays: credential.rotationIntervalDays,
      gracePeriodHours: credential.gracePeriodHours,
      nextRotationAt: credential.nextRotationAt,
      pendingChange: credential.pendingChange,
      updatedAt: credential.updatedAt,
    });
  }
}

export function targetOf(credential: CredentialEntity): SecretTarget {
  return {
    credentialId: credential.id,
    agentId: credential.agentId,
    ownerId: credential.ownerId,
    environment: credential.environment,
  };
}

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

function sameDigest(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function assertNotRevoked(credential: CredentialEntity): void {
  if (credential.status === 'revoked') {
    throw new ConflictError('CREDENTIAL_REVOKED', 'This credential is revoked; a revoked credential never changes again.');
  }
}

function assertActive(credential: CredentialEntity): void {
  assertNotRevoked(credential);
  if (credential.status !== 'active') {
    throw new ConflictError('CREDENTIAL_NOT_ACTIVE', `This credential is ${credential.status}.`);
  }
}

function assertNotRequester(actor: Actor, requestedBy: string): void {
  if (actor.tokenId === requestedBy) {
    throw new ForbiddenError('SELF_APPROVAL', 'The approver must be a different admin than the requester.');
  }
}

/** Why `scopes` is not a non-empty strict subset of `current`, or null when it is. */
function strictSubsetProblem(scopes: string[], current: string[]): string | null {
  const have = new Set(current);
  if (scopes.length === 0) return 'must keep at least one scope';
  if (new Set(scopes).size !== scopes.length) return 'must not repeat a scope';
  const foreign = scopes.filter((scope) => !have.has(scope));
  if (foreign.length) return `must be a subset of the credential's current scopes; not among them: ${foreign.join(', ')}`;
  if (scopes.length >= have.size) return "must leave out at least one of the credential's current scopes";
  return null;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** What the audit log records of a credential: its policy, never its secret. */
function describe(credential: CredentialEntity): Record<string, unknown> {
  return {
    agentId: credential.agentId,
    ownerId: credential.ownerId,
    type: credential.type,
    environment: credential.environment,
    status: credential.status,
    scopes: credential.scopes,
    rateLimit: { requests: credential.rateLimitRequests, perSeconds: credential.rateLimitPerSeconds },
    ipAllowlist: credential.ipAllowlist,
    secretStore: credential.secretStore,
    secretVersion: credential.secretVersion,
    rotationIntervalDays: credential.rotationIntervalDays,
    gracePeriodHours: credential.gracePeriodHours,
  };
}

/**
 * The `data` of a credential event (API.md "Gateways and events"): what a
 * gateway needs to enforce the credential. Never the secret: its SHA-256 and
 * where it lives. Event-specific fields (reason, graceEndsAt, ...) are added
 * by the publisher.
 */
export function credentialEventData(credential: CredentialEntity): Record<string, unknown> {
  return {
    credentialId: credential.id,
    clientId: credential.clientId,
    agentId: credential.agentId,
    ownerId: credential.ownerId,
    type: credential.type,
    environment: credential.environment,
    status: credential.status,
    scopes: credential.scopes,
    rateLimit: { requests: credential.rateLimitRequests, perSeconds: credential.rateLimitPerSeconds },
    ipAllowlist: credential.ipAllowlist,
    secretVersion: credential.secretVersion,
    secretSha256: credential.secretSha256,
    secretRef: credential.secretRef,
  };
}

export function toCredentialView(credential: CredentialEntity): CredentialView {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: credential.id,
    clientId: credential.clientId,
    agentId: credential.agentId,
    ownerId: credential.ownerId,
    type: credential.type,
    environment: credential.environment,
    scopes: credential.scopes,
    rateLimit: { requests: credential.rateLimitRequests, perSeconds: credential.rateLimitPerSeconds },
    ipAllowlist: credential.ipAllowlist,
    secretStore: credential.secretStore,
    secretRef: credential.secretRef,
    secretVersion: credential.secretVersion,
    status: credential.status,
    rotationIntervalDays: credential.rotationIntervalDays,
    gracePeriodHours: credential.gracePeriodHours,
    lastRotatedAt: iso(credential.lastRotatedAt),
    nextRotationAt: iso(credential.nextRotationAt),
    lastUsedAt: iso(credential.lastUsedAt),
    createdAt: credential.createdAt.toISOString(),
    updatedAt: credential.updatedAt.toISOString(),
    revokedAt: iso(credential.revokedAt),
    revokedReason: credential.revokedReason,
    requestedBy: credential.requestedBy,
    approvedBy: credential.approvedBy,
    pendingChange: credential.pendingChange ? { ...credential.pendingChange, status: 'pending_approval' } : null,
  };
}
