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

/**
 * POST /v1/usage: calls a gateway verified itself. Each event is validated on
 * its own (a bad one is rejected by its index, the others accepted), resolved
 * to its credential by id or client id among the credentials of the gateway's
 * environments, and handed to the same recorder as verify/authz calls: the
 * same hourly rollups, lastUsedAt and per-call records.
 */
@Injectable()
export class UsageIngestionService {
  constructor(
    private readonly views: UsageViewRepository,
    private readonly recorder: UsageRecorderService,
    private readonly gateways: GatewaysService,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly config: AppConfig,
  ) {}

  async ingest(actor: Actor, raw: readonly unknown[]): Promise<IngestAnswer> {
    const now = this.clock.now().getTime();
    const window = {
      latest: now + this.config.usage.maxClockSkewMs,
      earliest: now - this.config.usage.retentionDays * DAY_MS,
      retentionDays: this.config.usage.retentionDays,
    };
    const rejected: IngestAnswer['rejected'] = [];
    const valid: ValidUsageEvent[] = [];
    const validIndex: number[] = [];
    const ids = new Set<string>();
    const clientIds = new Set<string>();
    for (let index = 0; index < raw.length; index++) {
      const checked = validateUsageEvent(raw[index]);
      if (Array.isArray(checked)) {
        rejected.push({ index, errors: checked });
        continue;
      }
      const late = atWindowError(checked.atMs, window);
      if (late) {
        rejected.push({ index, errors: [late] });
        continue;
      }
      valid.push(checked);
      validIndex.push(index);
      const { credentialId, clientId } = checked.event;
      if (credentialId) ids.add(credentialId.toLowerCase());
      else clientIds.add(clientId!);
    }

    // One query for the batch's credentials, one for the gateway's environments.
    const environments = new Set((await this.gateways.get(actor.gatewayId!)).environments);
    const found = await this.views.findCredentials([...ids], [...clientIds]);
    const byId = new Map<string, UsageCredentialRow>();
    const byClientId = new Map<string, UsageCredentialRow>();
    for (const row of found) {
      if (!environments.has(row.environment)) continue;
      byId.set(row.id, row);
      byClientId.set(row.clientId, row);
    }

    // A buffer the database has not caught up with holds this batch back (bounded memory; the gateway waits). Waiting
    // before the records are made, and recording each as it is made, keeps them from outliving the wait: the recorder
    // keeps its per-call record in the sink's compact form, and the objects die young (src/usage/usage-event-sink.ts).
    await this.recorder.whenRoom();
    // A batch names few addresses many times: each is put in canonical form once.
    const addresses = new Map<string, string>();
    let accepted = 0;
    for (let i = 0; i < valid.length; i++) {
      const { event, atMs } = valid[i]!;
      const credential = event.credentialId ? byId.get(event.credentialId.toLowerCase()) : byClientId.get(event.clientId!);
      if (!credential) {
        rejected.push({ index: validIndex[i]!, errors: [{ field: event.credentialId ? 'credentialId' : 'clientId', message: UNKNOWN }] });
        continue;
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
      accepted++;
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
    }
    rejected.sort((a, b) => a.index - b.index);
    return { accepted, rejected };
  }
}
