import { Injectable } from '@nestjs/common';

import type { Actor } from '../auth/actor';
import { Clock, DAY_MS } from '../common/clock/clock';
import type { FieldError } from '../common/errors/domain-error';
import { RandomSource } from '../common/random/random-source';
import { AppConfig } from '../config/app-config';
import { parseAddress } from '../enforcement/enforced-credential';
import { UsageRecorderService } from '../enforcement/usage-recorder.service';
import { GatewaysService } from '../gateways/gateways.service';
import { atWindowError, validateUsageEvent, ValidUsageEvent } from './usage-event-validator';
import { UsageCredentialRow, UsageViewRepository } from './usage-view.repository';

/** Deny codes that follow a valid key: the call still counts as a use of the credential (lastUsedAt), as in verification. */
const AUTHENTICATED_DENIALS: ReadonlySet<string> = new Set(['SCOPE_DENIED', 'IP_DENIED', 'RATE_LIMITED']);

const UNKNOWN = "names no credential of this gateway's environments";

export interface IngestAnswer {
  accepted: number;
  rejected: Array<{ index: number; errors: FieldError[] }>;
}

/** Credentials the ingestion remembers at most (by id and by client id); past it, it starts over. */
const MAX_KNOWN_CREDENTIALS = 20_000;
/** Gateways whose environments it remembers at most; past it, it starts over. */
const MAX_KNOWN_GATEWAYS = 1_000;

/** What resolving an event needs of its credential. */
type KnownCredential = Pick<UsageCredentialRow, 'id' | 'clientId' | 'ownerId' | 'environment'>;

/**
 * POST /v1/usage: calls a gateway verified itself. Each event is validated on
 * its own (a bad one is rejected by its index, the others accepted), resolved
 * to its credential by id or client id among the credentials of the gateway's
 * environments, and handed to the same recorder as verify/authz calls: the
 * same hourly rollups, lastUsedAt and per-call records.
 *
 * What resolving needs never changes once a credential or gateway exists (a
 * credential's id, client id, owner and environment; a gateway's
 * environments; neither is ever deleted), so it is kept in memory once read:
 * a report whose credentials are known is handled in one synchronous pass,
 * each event validated, recorded and let go before the next: a report's
 * events then die in the young generation instead of being promoted as a
 * whole (docs/usage.md, "How a report is handled, and why so"). From the
 * first event naming a credential not known yet, the rest of the report waits
 * for one read of the missing credentials, then is recorded in order.
 */
@Injectable()
export class UsageIngestionService {
  private readonly byId = new Map<string, KnownCredential>();
  private readonly byClientId = new Map<string, KnownCredential>();
  private readonly gatewayEnvironments = new Map<string, ReadonlySet<string>>();

  constructor(
    private readonly views: UsageViewRepository,
    private readonly recorder: UsageRecorderService,
    private readonly gateways: GatewaysService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
  ) {}

  /**
   * `raw` is the request's own array of events: each entry is cleared once its
   * event is recorded or refused, so the events of a large report do not all
   * live until the answer.
   */
  async ingest(actor: Actor, raw: unknown[]): Promise<IngestAnswer> {
    // A buffer the database has not caught up with holds this batch back (bounded memory; the gateway waits), before any
    // record is made: the recorder keeps its per-call record in the sink's compact form (src/usage/usage-event-sink.ts).
    await this.recorder.whenRoom();
    const environments = await this.environmentsOf(actor.gatewayId!);
    const now = this.clock.now().getTime();
    const window = {
      latest: now + this.config.usage.maxClockSkewMs,
      earliest: now - this.config.usage.retentionDays * DAY_MS,
      retentionDays: this.config.usage.retentionDays,
    };
    const rejected: IngestAnswer['rejected'] = [];
    // A batch names few addresses many times: each is put in canonical form once.
    const addresses = new Map<string, string>();
    let accepted = 0;
    // Events from the first one naming an unknown credential on, validated, waiting for the read of those credentials.
    const waiting: Array<ValidUsageEvent & { index: number }> = [];
    const ids = new Set<string>();
    const clientIds = new Set<string>();
    for (let index = 0; index < raw.length; index++) {
      const checked = validateUsageEvent(raw[index]);
      raw[index] = undefined;
      if (Array.isArray(checked)) {
        rejected.push({ index, errors: checked });
        continue;
      }
      const late = atWindowError(checked.atMs, window);
      if (late) {
        rejected.push({ index, errors: [late] });
        continue;
      }
      const { credentialId, clientId } = checked.event;
      const known = credentialId ? this.byId.get(credentialId.toLowerCase()) : this.byClientId.get(clientId!);
      if (waiting.length === 0 && known) {
        if (this.accept(actor, environments, known, checked, index, rejected, addresses)) accepted++;
        continue;
      }
      waiting.push({ ...checked, index });
      if (known) continue;
      if (credentialId) ids.add(credentialId.toLowerCase());
      else clientIds.add(clientId!);
    }
    if (waiting.length) {
      // One query for the credentials not known yet.
      this.remember(await this.views.findCredentials([...ids], [...clientIds]));
      for (let i = 0; i < waiting.length; i++) {
        const checked = waiting[i]!;
        const { credentialId, clientId } = checked.event;
        const credential = credentialId ? this.byId.get(credentialId.toLowerCase()) : this.byClientId.get(clientId!);
        if (this.accept(actor, environments, credential, checked, checked.index, rejected, addresses)) accepted++;
        waiting[i] = undefined!;
      }
    }
    rejected.sort((a, b) => a.index - b.index);
    return { accepted, rejected };
  }

  /** Records one valid event, or refuses it when it names no credential of the gateway's environments; true if recorded. */
  private accept(
    actor: Actor,
    environments: ReadonlySet<string>,
    credential: KnownCredential | undefined,
    { event, atMs }: ValidUsageEvent,
    index: number,
    rejected: IngestAnswer['rejected'],
    addresses: Map<string, string>,
  ): boolean {
    if (!credential || !environments.has(credential.environment)) {
      rejected.push({ index, errors: [{ field: event.credentialId ? 'credentialId' : 'clientId', message: UNKNOWN }] });
      return false;
    }
    let ip = addresses.get(event.ip);
    if (ip === undefined) {
      ip = parseAddress(event.ip)?.toString() ?? event.ip;
      addresses.set(event.ip, ip);
    }
    const at = new Date(atMs);
    const allowed = event.outcome === 'allowed';
    const scope = event.scope ?? null;
    const query = event.path.indexOf('?');
    this.recorder.record({
      credentialId: credential.id,
      at,
      scope,
      code: allowed ? 'VALID' : event.denyCode!,
      ip,
      authenticated: allowed || AUTHENTICATED_DENIALS.has(event.denyCode!),
      call: {
        id: this.random.orderedUuid(),
        at,
        credentialId: credential.id,
        clientId: credential.clientId,
        ownerId: credential.ownerId,
        source: 'gateway',
        gatewayId: actor.gatewayId,
        method: event.method.toUpperCase(),
        path: query === -1 ? event.path : event.path.slice(0, query),
        scope,
        statusCode: event.statusCode,
        ip,
        requestId: event.requestId,
        outcome: event.outcome,
        denyCode: allowed ? null : event.denyCode!,
      },
    });
    return true;
  }

  /** A gateway's environments (read once: they are fixed when it is created, src/gateways/gateways.service.ts). */
  private async environmentsOf(gatewayId: string): Promise<ReadonlySet<string>> {
    const known = this.gatewayEnvironments.get(gatewayId);
    if (known) return known;
    const environments: ReadonlySet<string> = new Set((await this.gateways.get(gatewayId)).environments);
    if (this.gatewayEnvironments.size >= MAX_KNOWN_GATEWAYS) this.gatewayEnvironments.clear();
    this.gatewayEnvironments.set(gatewayId, environments);
    return environments;
  }

  /** Keeps what resolving needs of these credentials (not their last use, which changes). */
  private remember(rows: readonly UsageCredentialRow[]): void {
    if (this.byId.size + rows.length > MAX_KNOWN_CREDENTIALS) {
      this.byId.clear();
      this.byClientId.clear();
    }
    for (const row of rows) {
      const kept: KnownCredential = { id: row.id, clientId: row.clientId, ownerId: row.ownerId, environment: row.environment };
      this.byId.set(kept.id, kept);
      this.byClientId.set(kept.clientId, kept);
    }
  }
}
