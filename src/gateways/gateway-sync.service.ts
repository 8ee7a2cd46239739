import { Injectable } from '@nestjs/common';

import { type Actor, assertGatewayAccess } from '../auth/actor';
import { Clock } from '../common/clock/clock';
import { InvalidInputError } from '../common/errors/domain-error';
import { EVENT_CURSOR_RE, type GatewayEventPageDto, type SnapshotPageDto } from './dto/gateway-sync.dto';
import { GatewaySyncRepository } from './gateway-sync.repository';
import { GatewaysService } from './gateways.service';

const DEFAULT_SNAPSHOT_PAGE = 500;
const DEFAULT_EVENTS_PAGE = 100;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * What a gateway that is new or lost its state rebuilds from: a snapshot of
 * the credentials it must accept, then a replay of its events after the
 * snapshot's `eventCursor` (docs/gateway-sync.md).
 *
 * Why snapshot + replay converge: the event cursor is the head of the event
 * log taken before the first page is read. Every event committed after that
 * has a higher position, so the replay holds every change the pages may have
 * missed. A page read later may already show a change whose event the replay
 * brings again; each event sets what it carries (terms, a version's validity,
 * a version removed, the credential removed) rather than adding to it, and
 * the replay brings every later event of the same credential in order too, so
 * the last event wins as it does for the webhooks.
 */
@Injectable()
export class GatewaySyncService {
  constructor(
    private readonly repository: GatewaySyncRepository,
    private readonly gateways: GatewaysService,
    private readonly clock: Clock,
  ) {}

  async snapshot(actor: Actor, gatewayId: string, query: { cursor?: string; limit?: number }): Promise<SnapshotPageDto> {
    assertGatewayAccess(actor, gatewayId);
    const page = query.cursor === undefined ? null : decodeSnapshotCursor(query.cursor);
    const gateway = await this.gateways.get(gatewayId);
    const eventCursor = page ? page.eventCursor : await this.repository.sequence();
    const limit = query.limit ?? DEFAULT_SNAPSHOT_PAGE;
    const rows = await this.repository.snapshotPage(gateway.environments, page?.afterId ?? null, limit + 1, this.clock.now());
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map((row) => ({
      credentialId: row.credentialId,
      clientId: row.clientId,
      agentId: row.agentId,
      ownerId: row.ownerId,
      environment: row.environment,
      scopes: row.scopes,
      rateLimit: { requests: row.rateLimitRequests, perSeconds: row.rateLimitPerSeconds },
      ipAllowlist: row.ipAllowlist,
      versions: row.versions,
    }));
    const nextCursor = more ? encodeSnapshotCursor({ afterId: items[items.length - 1].credentialId, eventCursor }) : null;
    return { items, nextCursor, eventCursor };
  }

  async events(actor: Actor, gatewayId: string, query: { after: string; limit?: number }): Promise<GatewayEventPageDto> {
    assertGatewayAccess(actor, gatewayId);
    await this.gateways.get(gatewayId);
    const limit = query.limit ?? DEFAULT_EVENTS_PAGE;
    await this.repository.sequence();
    const rows = await this.repository.events(gatewayId, query.after, limit + 1);
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map((row) => {
      const body = JSON.parse(row.payload) as { type: string; timestamp: string; data: Record<string, unknown> };
      return { eventCursor: row.position, id: row.id, type: body.type, timestamp: body.timestamp, data: body.data };
    });
    return { items, nextCursor: more ? items[items.length - 1].eventCursor : null };
  }
}

interface SnapshotCursor {
  afterId: string;
  eventCursor: string;
}

function encodeSnapshotCursor(cursor: SnapshotCursor): string {
  return Buffer.from(JSON.stringify([cursor.afterId, cursor.eventCursor])).toString('base64url');
}

/** Anything but what encodeSnapshotCursor wrote is a 400 naming `cursor`. */
function decodeSnapshotCursor(cursor: string): SnapshotCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      UUID_RE.test(value[0]) &&
      EVENT_CURSOR_RE.test(value[1])
    ) {
      return { afterId: value[0], eventCursor: value[1] };
    }
  } catch {
    // fall through to the 400 below
  }
  throw InvalidInputError.field('cursor', 'is not a cursor this API issued');
}
