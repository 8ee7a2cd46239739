import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

import { AuditService } from '../audit/audit.service';
import { Actor, canReadAll, RequestContext, scopedOwnerFilter, systemContext } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { isDatabaseUnavailable } from '../common/db/pg-errors';
import { inSavepoint } from '../common/db/savepoint';
import { DomainError, NotFoundError } from '../common/errors/domain-error';
import { decodeTimeCursor, encodeTimeCursor, Page, toPage } from '../common/pagination/pagination';
import { RandomSource } from '../common/random/random-source';
import { EventOutboxService } from '../gateways/event-outbox.service';
import { RevocationService } from '../revocation/revocation.service';
import { RotationsService } from '../rotation/rotations.service';
import { AlertResolvedError } from './alert-errors';
import { ALERT_TYPES, AlertAction, AlertOccurrence, AlertStatus, AlertType, PolicyAction, SEVERITY_OF } from './alert-types';
import { AlertFilter, AlertRow, AlertsRepository } from './alerts.repository';

/** An alert as the API and the notification webhook show it. */
export interface AlertView {
  id: string;
  type: AlertType;
  severity: AlertRow['severity'];
  status: AlertStatus;
  credentialId: string;
  agentId: string;
  ownerId: string;
  firstSeenAt: string;
  lastSeenAt: string;
  count: number;
  evidence: Record<string, unknown>;
  action: AlertAction | null;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolutionNote: string | null;
}

export interface AlertListQuery extends AlertFilter {
  limit?: number;
  cursor?: string;
}

/**
 * Sightings raised in one transaction at most (AlertsService.raiseMany, a
 * statement per table however many): a burst costs a commit per this many
 * alerts, and the first of them waits for no more than this many before it is
 * committed and its webhook can leave. Under 1,000 so that the audit and
 * outbox inserts each stay one statement (src/audit/audit.service.ts,
 * src/gateways/event-outbox.service.ts).
 */
export const RAISE_PER_TRANSACTION = 500;

/** Who the alerts module acts as when it carries out a policy or raises what detection saw. */
const COMPONENT = 'alerts';

/**
 * Alerts: raising (from detection, the volume-spike sweep and leak reports),
 * the policy each type's new alerts carry out, acknowledging and resolving,
 * and the reads. Every change is audited, and `alert.raised`,
 * `alert.acknowledged` and `alert.resolved` go to the notification webhook
 * through the outbox, in the change's transaction. Repeats of an unresolved
 * alert raise its `count` (audited as `alert.repeated`) without a webhook.
 */
@Injectable()
export class AlertsService {
  private readonly logger = new Logger('Alerts');
  /** Alerts raised since start (tests and the benchmark read it). */
  raised = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: AlertsRepository,
    private readonly audit: AuditService,
    private readonly outbox: EventOutboxService,
    private readonly rotations: RotationsService,
    private readonly revocations: RevocationService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /** Raises one sighting in a transaction of its own, as the system. */
  raise(occurrence: AlertOccurrence): Promise<AlertView> {
    return this.dataSource.transaction(async (em) => (await this.raiseAllIn(em, null, [occurrence]))[0].alert);
  }

  /**
   * Raises sightings as the system, in one transaction and set-based
   * (raiseAllIn): a burst (a seed of dormant keys waking at once, a scanner
   * hitting thousands of keys) costs a handful of statements and one commit,
   * not a statement per alert and table. If that transaction fails, each half
   * is raised again on its own, down to single sightings, so one bad sighting
   * costs only itself and a few retries; those that fail alone are handed to
   * `failed`. A failure that is an outage (isDatabaseUnavailable) is no
   * sighting's fault: the sightings not raised yet are answered, in order,
   * for the caller to raise again later.
   */
  async raiseMany(occurrences: readonly AlertOccurrence[], failed: (o: AlertOccurrence, error: Error) => void): Promise<AlertOccurrence[]> {
    if (occurrences.length === 0) return [];
    try {
      await this.dataSource.transaction((em) => this.raiseAllIn(em, null, occurrences));
      return [];
    } catch (error) {
      if (isDatabaseUnavailable(error)) return [...occurrences];
      if (occurrences.length === 1) {
        failed(occurrences[0], error as Error);
        return [];
      }
    }
    const half = Math.ceil(occurrences.length / 2);
    const left = await this.raiseMany(occurrences.slice(0, half), failed);
    if (left.length) return [...left, ...occurrences.slice(half)];
    return this.raiseMany(occurrences.slice(half), failed);
  }

  /**
   * Raises one sighting inside the caller's transaction: opens an alert (and
   * carries out its type's policy) or counts into the unresolved one. `ctx`
   * is who raised it (a leak report's reporter); null: the system.
   */
  async raiseIn(
    em: EntityManager,
    ctx: RequestContext | null,
    occurrence: AlertOccurrence,
  ): Promise<{ alert: AlertView; opened: boolean }> {
    return (await this.raiseAllIn(em, ctx, [occurrence]))[0];
  }

  /**
   * Raises sightings inside the caller's transaction, a statement per table
   * rather than per alert: one upsert of the alerts (split only where a type
   * and credential repeats, since a statement updates a row once), one insert
   * of their audit events (each alert its own `alert.raised` or
   * `alert.repeated`, with its own system request id, chained by the audit
   * chainer like any other), one read of the policies when an alert opened,
   * and one outbox insert of the opened alerts' `alert.raised` with their
   * notification deliveries. Only a policy other than `none` costs per
   * alert: its rotation or revocation, carried out after the alert's
   * `alert.raised` is written and before it is published. Answers each
   * sighting's alert, in the order given.
   */
  async raiseAllIn(
    em: EntityManager,
    ctx: RequestContext | null,
    occurrences: readonly AlertOccurrence[],
  ): Promise<Array<{ alert: AlertView; opened: boolean }>> {
    if (occurrences.length === 0) return [];
    const now = this.clock.now();
    const rows: Array<AlertRow & { inserted: boolean }> = [];
    for (const run of distinctAlertRuns(occurrences)) {
      const written = await this.repository.upsertMany(
        em,
        run.map((o) => ({
          // Time-ordered: alerts opened in the same millisecond still list newest first.
          id: this.random.orderedUuid(),
          type: o.type,
          severity: SEVERITY_OF[o.type],
          credentialId: o.credentialId,
          agentId: o.agentId,
          ownerId: o.ownerId,
          firstSeenAt: o.firstAt ?? o.at,
          lastSeenAt: o.at,
          count: o.count,
          evidence: o.evidence,
        })),
        now,
      );
      rows.push(...written);
    }
    const raisedBy = (row: AlertRow) => ctx ?? systemContext(COMPONENT, `alert:${row.id}`);
    await this.audit.recordEach(
      em,
      rows.map((row, i) => {
        const o = occurrences[i];
        // A sighting that stands for several coalesced while waiting (src/alerts/alert-backlog.ts) says so.
        const coalesced = o.coalesced !== undefined && o.coalesced > 1 ? { coalesced: o.coalesced } : {};
        return {
          ctx: raisedBy(row),
          entry: row.inserted
            ? {
                action: 'alert.raised' as const,
                targetType: 'alert',
                targetId: row.id,
                data: {
                  type: row.type,
                  severity: row.severity,
                  credentialId: row.credentialId,
                  count: row.count,
                  evidence: row.evidence,
                  ...coalesced,
                },
              }
            : {
                action: 'alert.repeated' as const,
                targetType: 'alert',
                targetId: row.id,
                data: {
                  type: row.type,
                  credentialId: row.credentialId,
                  added: o.count,
                  count: row.count,
                  evidence: o.evidence,
                  ...coalesced,
                },
              },
        };
      }),
    );
    const opened = rows.filter((row) => row.inserted);
    if (opened.length) {
      const policies = await this.repository.policies(em);
      for (const row of opened) {
        const policy = policies.get(row.type) ?? 'none';
        if (policy !== 'none') row.action = await this.carryOut(em, row, policy, now);
      }
      await this.outbox.publishMany(
        em,
        opened.map((row) => ({ type: 'alert.raised', credentialId: null, environment: null, notify: true, data: { ...viewOf(row) } })),
        { deliveryIds: false },
      );
      this.raised += opened.length;
    }
    return rows.map((row) => ({ alert: viewOf(row), opened: row.inserted }));
  }

  /**
   * The policy's action, by the system actor, in the alert's transaction: an
   * immediate rotation or a revocation of the alert's credential (each
   * audited by its own service), linked on the alert and audited as
   * `alert.action_taken`. An action that cannot be done (the credential is
   * revoked, a rotation is already running) is recorded as skipped, with why;
   * the alert stands either way.
   */
  private async carryOut(em: EntityManager, alert: AlertRow, policy: Exclude<PolicyAction, 'none'>, now: Date): Promise<AlertAction> {
    const ctx = systemContext(COMPONENT, `alert:${alert.id}`);
    const reason = `alert ${alert.id}: ${alert.type} (policy ${policy})`;
    const action: AlertAction = { type: policy, at: now.toISOString() };
    try {
      // An action that fails is undone alone: the alert stands.
      await inSavepoint(em, async (inner) => {
        if (policy === 'rotate') {
          const rotation = await this.rotations.requestRotationInTransaction(inner, ctx, alert.credentialId, { immediate: true, reason });
          action.rotationId = rotation.rotationId;
        } else {
          const revocation = await this.revocations.revokeInTransaction(inner, ctx, [alert.credentialId], reason);
          if (revocation) action.revocationId = revocation.revocationId;
          else action.skipped = 'the credential was already revoked';
        }
      });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      action.skipped = error.message;
      this.logger.warn({ alertId: alert.id, policy, code: error.code }, 'alert policy action skipped');
    }
    await this.repository.setAction(em, alert.id, action, now);
    await this.audit.record(em, ctx, {
      action: 'alert.action_taken',
      targetType: 'alert',
      targetId: alert.id,
      data: { alertType: alert.type, credentialId: alert.credentialId, ...action },
    });
    return action;
  }

  async get(actor: Actor, id: string): Promise<AlertView> {
    const row = await this.repository.findById(id);
    if (!row || !mayRead(actor, row)) throw new NotFoundError('alert', id);
    return viewOf(row);
  }

  /** Newest first. An owner sees only its own credentials' alerts (asking for another owner's is a 403). */
  async list(actor: Actor, query: AlertListQuery): Promise<Page<AlertView>> {
    const limit = query.limit ?? 50;
    const ownerId = scopedOwnerFilter(actor, query.ownerId);
    const rows = await this.repository.list(
      { status: query.status, type: query.type, credentialId: query.credentialId?.toLowerCase(), ownerId },
      decodeTimeCursor(query.cursor),
      limit,
    );
    return toPage(rows, limit, (r) => encodeTimeCursor({ createdAt: r.createdAt, id: r.id }), viewOf);
  }

  /** Marks an open alert as being handled: repeats keep counting into it, without a new webhook. Idempotent. */
  acknowledge(ctx: RequestContext, id: string): Promise<AlertView> {
    return this.dataSource.transaction(async (em) => {
      const row = await this.lockReadable(em, ctx.actor, id);
      if (row.status === 'resolved') throw new AlertResolvedError(id);
      if (row.status === 'acknowledged') return viewOf(row);
      const updated = await this.repository.acknowledge(em, id, ctx.actor.tokenId, this.clock.now());
      await this.audit.record(em, ctx, {
        action: 'alert.acknowledged',
        targetType: 'alert',
        targetId: id,
        data: { type: row.type, credentialId: row.credentialId },
      });
      const alert = viewOf(updated);
      await this.outbox.publish(em, {
        type: 'alert.acknowledged',
        credentialId: null,
        environment: null,
        notify: true,
        data: { ...alert },
      });
      return alert;
    });
  }

  /** Closes an alert with a note. A later sighting opens a new alert (a resolved one never reopens). Idempotent. */
  resolve(ctx: RequestContext, id: string, note: string): Promise<AlertView> {
    return this.dataSource.transaction(async (em) => {
      const row = await this.lockReadable(em, ctx.actor, id);
      if (row.status === 'resolved') return viewOf(row);
      const updated = await this.repository.resolve(em, id, ctx.actor.tokenId, note, this.clock.now());
      await this.audit.record(em, ctx, {
        action: 'alert.resolved',
        targetType: 'alert',
        targetId: id,
        data: { type: row.type, credentialId: row.credentialId, note },
      });
      const alert = viewOf(updated);
      await this.outbox.publish(em, { type: 'alert.resolved', credentialId: null, environment: null, notify: true, data: { ...alert } });
      return alert;
    });
  }

  /** Every type with its action (`none` when never set). */
  async policies(): Promise<Array<{ type: AlertType; action: PolicyAction }>> {
    const set = await this.repository.policies();
    return ALERT_TYPES.map((type) => ({ type, action: set.get(type) ?? 'none' }));
  }

  putPolicy(ctx: RequestContext, type: string, action: PolicyAction): Promise<{ type: AlertType; action: PolicyAction }> {
    if (!isAlertType(type)) return Promise.reject(new NotFoundError('alert type', type));
    return this.dataSource.transaction(async (em) => {
      const previous = await this.repository.putPolicy(em, type, action, ctx.actor.tokenId, this.clock.now());
      await this.audit.record(em, ctx, {
        action: 'alert_policy.updated',
        targetType: 'alert_policy',
        targetId: type,
        data: { action, previous },
      });
      return { type, action };
    });
  }

  private async lockReadable(em: EntityManager, actor: Actor, id: string): Promise<AlertRow> {
    const row = await this.repository.lockById(em, id);
    if (!row || !mayRead(actor, row)) throw new NotFoundError('alert', id);
    return row;
  }
}

/**
 * Splits sightings into runs in which no (type, credential) appears twice,
 * keeping their order: a repeat within a run goes to the next, so it counts
 * into the alert the earlier one opened.
 */
function distinctAlertRuns(occurrences: readonly AlertOccurrence[]): AlertOccurrence[][] {
  const runs: AlertOccurrence[][] = [];
  let run: AlertOccurrence[] = [];
  let seen = new Set<string>();
  for (const o of occurrences) {
    const key = `${o.type}|${o.credentialId}`;
    if (seen.has(key)) {
      runs.push(run);
      run = [];
      seen = new Set();
    }
    run.push(o);
    seen.add(key);
  }
  if (run.length) runs.push(run);
  return runs;
}

function isAlertType(value: string): value is AlertType {
  return (ALERT_TYPES as readonly string[]).includes(value);
}

/** Owners read their own credentials' alerts; another's is as if it did not exist. */
function mayRead(actor: Actor, row: AlertRow): boolean {
  return canReadAll(actor) || (actor.role === 'owner' && actor.ownerId === row.ownerId);
}

function iso(value: Date | null): string | null {
  return value ? new Date(value).toISOString() : null;
}

export function viewOf(row: AlertRow): AlertView {
  return {
    id: row.id,
    type: row.type,
    severity: row.severity,
    status: row.status,
    credentialId: row.credentialId,
    agentId: row.agentId,
    ownerId: row.ownerId,
    firstSeenAt: iso(row.firstSeenAt)!,
    lastSeenAt: iso(row.lastSeenAt)!,
    count: row.count,
    evidence: row.evidence,
    action: row.action,
    acknowledgedAt: iso(row.acknowledgedAt),
    acknowledgedBy: row.acknowledgedBy,
    resolvedAt: iso(row.resolvedAt),
    resolvedBy: row.resolvedBy,
    resolutionNote: row.resolutionNote,
  };
}
