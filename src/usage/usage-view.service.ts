import { Injectable } from '@nestjs/common';

import { Actor, assertOwnerRead } from '../auth/actor';
import { Clock, DAY_MS, HOUR_MS } from '../common/clock/clock';
import { InvalidInputError } from '../common/errors/domain-error';
import { DEFAULT_PAGE_SIZE } from '../common/pagination/pagination';
import { CredentialUsageDto, CredentialUsageQueryDto, UsageEventPageDto, UsageEventsQueryDto } from './dto/usage.dto';
import { CredentialNotFoundError } from './usage-errors';
import { UsageEventSink } from './usage-event-sink';
import { UsageViewRepository } from './usage-view.repository';

/** Buckets one usage view answers at most (a month of hours, or more than a year of days). */
const MAX_BUCKETS = 800;
const TOP_IPS = 10;

/** The usage view of a credential (from the hourly rollups) and the per-call records (through the sink). */
@Injectable()
export class UsageViewService {
  constructor(
    private readonly views: UsageViewRepository,
    private readonly sink: UsageEventSink,
    private readonly clock: Clock,
  ) {}

  async credentialUsage(actor: Actor, id: string, query: CredentialUsageQueryDto): Promise<CredentialUsageDto> {
    const credential = await this.credential(actor, id);
    const granularity = query.granularity ?? 'hour';
    const size = granularity === 'hour' ? HOUR_MS : DAY_MS;
    const toMs = Math.ceil((query.to ? new Date(query.to) : this.clock.now()).getTime() / size) * size;
    const fromMs =
      Math.floor((query.from ? new Date(query.from).getTime() : toMs - (granularity === 'hour' ? DAY_MS : 30 * DAY_MS)) / size) * size;
    if (fromMs >= toMs) throw InvalidInputError.field('from', 'must be before to');
    if ((toMs - fromMs) / size > MAX_BUCKETS) throw InvalidInputError.field('from', `spans more than ${MAX_BUCKETS} ${granularity}s`);
    const from = new Date(fromMs);
    const to = new Date(toMs);
    const [rows, ips, topIps] = await Promise.all([
      this.views.buckets(id, granularity, from, to),
      this.views.distinctIps(id, granularity, from, to),
      this.views.topIps(id, from, to, TOP_IPS),
    ]);
    const buckets = new Map<
      number,
      { start: string; calls: number; denied: number; byScope: Record<string, number>; distinctIps: number }
    >();
    for (let t = fromMs; t < toMs; t += size) {
      buckets.set(t, { start: new Date(t).toISOString(), calls: 0, denied: 0, byScope: {}, distinctIps: 0 });
    }
    for (const row of rows) {
      const bucket = buckets.get(new Date(row.start).getTime());
      if (!bucket) continue;
      bucket.calls += row.calls;
      if (row.outcome === 'denied') bucket.denied += row.calls;
      if (row.scope !== '') bucket.byScope[row.scope] = (bucket.byScope[row.scope] ?? 0) + row.calls;
    }
    for (const row of ips) {
      const bucket = buckets.get(new Date(row.start).getTime());
      if (bucket) bucket.distinctIps = row.ips;
    }
    return {
      lastUsedAt: credential.lastUsedAt?.toISOString() ?? null,
      lastUsedIp: credential.lastUsedIp,
      granularity,
      from: from.toISOString(),
      to: to.toISOString(),
      buckets: [...buckets.values()],
      topIps,
    };
  }

  async events(actor: Actor, query: UsageEventsQueryDto): Promise<UsageEventPageDto> {
    if (query.credentialId) await this.credential(actor, query.credentialId);
    const page = await this.sink.list({
      credentialId: query.credentialId?.toLowerCase(),
      ownerId: actor.role === 'owner' ? actor.ownerId! : undefined,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
      limit: query.limit ?? DEFAULT_PAGE_SIZE,
      cursor: query.cursor,
    });
    return {
      nextCursor: page.nextCursor,
      items: page.items.map(({ ownerId: _owner, at, ...event }) => ({ ...event, at: at.toISOString() })),
    };
  }

  private async credential(actor: Actor, id: string) {
    const [credential] = await this.views.findCredentials([id.toLowerCase()], []);
    if (!credential) throw new CredentialNotFoundError(id);
    assertOwnerRead(actor, credential.ownerId, 'credential');
    return credential;
  }
}
