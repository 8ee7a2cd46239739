import { Injectable, Logger, OnModuleInit } from '@nestjs/common';

import { yieldToLoop } from '../common/async/yield-to-loop';
import { Clock, DAY_MS, HOUR_MS } from '../common/clock/clock';
import { AppConfig } from '../config/app-config';
import { UsageObserver } from '../enforcement/usage-observer';
import { UsageRecord, UsageRecorderService } from '../enforcement/usage-recorder.service';
import { AlertBacklog } from './alert-backlog';
import { AlertOccurrence, DORMANT_DAYS, NETWORK_MEMORY_DAYS } from './alert-types';
import { AlertsRepository, CredentialFacts } from './alerts.repository';
import { AlertsService, RAISE_PER_TRANSACTION } from './alerts.service';
import { networkOf } from './network-of';

const MINUTE_MS = 60_000;
/**
 * A credential's facts read within this long (by the service's clock) are
 * reused: an allowlist change reaches new_network this late at most, and the
 * previous use is known from what this process saw since.
 */
const FACTS_TTL_MS = 60_000;
/** A (credential, network) pair written to alert_networks within this long is neither read nor written again. */
const NETWORK_TOUCH_MS = HOUR_MS;
/** Entries each cache keeps at most (past it, it starts over). */
const MAX_CACHED = 200_000;
/** Credentials a batch's detection handles between two yields to the event loop (src/common/async/yield-to-loop.ts). */
const SLICE = 500;
/** Addresses an alert's evidence lists at most. */
const MAX_EVIDENCE_IPS = 10;

/** The pause before raising again a chunk the database was unavailable for: doubling from the first, up to the second. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

/** Denials that say nothing about the key's holder: a valid key over its rate limit is not an authentication failure. */
const NOT_AUTH_FAILURES: ReadonlySet<string> = new Set(['VALID', 'RATE_LIMITED']);

/** A credential's facts as the cache keeps them (see factsCache). */
interface CachedFacts {
  agentId: string;
  ownerId: string;
  status: string;
  ipAllowlist: readonly string[];
  lastUsedMs: number | null;
  createdMs: number;
  readAt: number;
  lastUseMs: number;
}

const NO_ADDRESSES: readonly string[] = Object.freeze([]);

interface Sighting {
  calls: number;
  first: Date;
  last: Date;
  ips: Set<string>;
  codes: Record<string, number>;
  versions: Set<number>;
  sources: Set<string>;
}

/** The calls of one flush of the usage recorder, summed as they are recorded (AlertDetectorService.see). */
interface DetectionBatch {
  calls: number;
  ipDenied: Map<string, Sighting>;
  retired: Map<string, Sighting>;
  denials: Map<string, { credentialId: string; minute: Date; denials: number; sighting: Sighting }>;
  used: Map<string, { first: Date; last: Date; firstIp: string | null; networks: Map<string, { ip: string; first: Date; last: Date }> }>;
  /** Network of each address seen (each address's network worked out once per batch). */
  networks: Map<string, string | null>;
}

function newBatch(): DetectionBatch {
  return { calls: 0, ipDenied: new Map(), retired: new Map(), denials: new Map(), used: new Map(), networks: new Map() };
}

/**
 * Streaming anomaly detection over each batch of recorded usage (the
 * recorder's flush, usage-observer.ts), off the verification's answer path.
 * Per batch: the calls are summed in memory as they are recorded (no call is
 * kept until the flush), then one read of the batch's
 * credentials (owner, allowlist, previous `lastUsedAt`; reused for a minute),
 * one upsert of per-minute denial counts, and for `new_network` one read and
 * one upsert of the networks not seen by this process within the hour; no
 * query per call. Each sighting goes into the bounded backlog
 * (alert-backlog.ts: a repeat of a waiting type and credential coalesces into
 * it; a full backlog makes detection wait, never drops one), which is raised
 * RAISE_PER_TRANSACTION at a time, set-based (AlertsService.raiseMany).
 * `volume_spike` needs a closed hour: volume-spike.cron.ts.
 */
@Injectable()
export class AlertDetectorService extends UsageObserver<DetectionBatch> implements OnModuleInit {
  readonly name = 'alert detection';
  private readonly logger = new Logger('AlertDetector');
  /** Batches looked at and sightings found since start (tests and the benchmark read them). */
  batches = 0;
  sightings = 0;
  /**
   * By credential id. Compact, since it holds every credential in use (100,000 of them): times as epoch ms rather
   * than Dates, agent and owner ids and statuses shared through `shared`, empty allowlists one array; a batch's
   * CredentialFacts are made from it again.
   */
  private readonly factsCache = new Map<string, CachedFacts>();
  private shared = new Map<string, string>();
  private readonly touched = new Map<string, number>();
  /** The calls recorded since the recorder's last flush, summed (see, take). */
  private gathering = newBatch();
  /** The sightings found and not yet raised: bounded, one per type and credential (alert-backlog.ts). */
  readonly backlog: AlertBacklog;
  /** Raising the backlog, a chunk at a time, while it has any (never rejects); null when idle. */
  private raising: Promise<void> | null = null;
  /** Sightings that could not be raised, each logged, and sightings kept through an outage and raised again, since start (tests and the benchmark read them). */
  failedToRaise = 0;
  retried = 0;

  constructor(
    private readonly recorder: UsageRecorderService,
    private readonly repository: AlertsRepository,
    private readonly alerts: AlertsService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    super();
    this.backlog = new AlertBacklog(config.alerts.backlogMax);
  }

  onModuleInit(): void {
    this.recorder.addObserver(this);
  }

  /** Sums a recorded call into the batch being gathered (usage-observer.ts); keeps its time, address and ids, not the record. */
  see(record: UsageRecord): void {
    const g = this.gathering;
    g.calls++;
    if (record.code === 'IP_DENIED') see(g.ipDenied, record.credentialId, record);
    if (record.code === 'REVOKED' || record.code === 'RETIRED') see(g.retired, record.credentialId, record);
    if (!NOT_AUTH_FAILURES.has(record.code)) {
      const minuteMs = Math.floor(record.at.getTime() / MINUTE_MS) * MINUTE_MS;
      const key = `${record.credentialId}|${minuteMs}`;
      let entry = g.denials.get(key);
      if (!entry) {
        entry = { credentialId: record.credentialId, minute: new Date(minuteMs), denials: 0, sighting: newSighting(record) };
        g.denials.set(key, entry);
      }
      entry.denials++;
      add(entry.sighting, record);
    }
    if (record.authenticated) {
      let use = g.used.get(record.credentialId);
      if (!use) g.used.set(record.credentialId, (use = { first: record.at, last: record.at, firstIp: record.ip, networks: new Map() }));
      if (record.at < use.first) {
        use.first = record.at;
        use.firstIp = record.ip;
      }
      if (record.at > use.last) use.last = record.at;
      let network = record.ip === null ? null : g.networks.get(record.ip);
      if (network === undefined) g.networks.set(record.ip!, (network = networkOf(record.ip!)));
      if (network) {
        const seen = use.networks.get(network);
        if (!seen) use.networks.set(network, { ip: record.ip!, first: record.at, last: record.at });
        else {
          if (record.at < seen.first) seen.first = record.at;
          if (record.at > seen.last) seen.last = record.at;
        }
      }
    }
  }

  take(): DetectionBatch | null {
    const taken = this.gathering;
    if (taken.calls === 0) return null;
    this.gathering = newBatch();
    return taken;
  }

  async observe({ ipDenied, retired, denials, used }: DetectionBatch): Promise<void> {
    this.batches++;
    const ids = new Set([...ipDenied.keys(), ...retired.keys(), ...used.keys(), ...[...denials.values()].map((d) => d.credentialId)]);
    if (ids.size === 0) return;
    const facts = await this.factsOf(ids);
    const found: AlertOccurrence[] = [];
    const occurrence = (f: CredentialFacts, o: Omit<AlertOccurrence, 'credentialId' | 'agentId' | 'ownerId'>) =>
      found.push({ ...o, credentialId: f.id, agentId: f.agentId, ownerId: f.ownerId });

    for (const [id, s] of ipDenied) {
      const f = facts.get(id);
      if (!f) continue;
      occurrence(f, {
        type: 'ip_not_allowed',
        at: s.last,
        firstAt: s.first,
        count: s.calls,
        evidence: {
          calls: s.calls,
          ips: [...s.ips],
          allowlist: f.ipAllowlist,
          sources: [...s.sources],
          from: s.first.toISOString(),
          to: s.last.toISOString(),
        },
      });
    }
    for (const [id, s] of retired) {
      const f = facts.get(id);
      if (!f) continue;
      occurrence(f, {
        type: 'retired_key_used',
        at: s.last,
        firstAt: s.first,
        count: s.calls,
        evidence: {
          via: 'usage',
          calls: s.calls,
          codes: s.codes,
          versions: [...s.versions].sort((a, b) => a - b),
          ips: [...s.ips],
          sources: [...s.sources],
          credentialStatus: f.status,
          from: s.first.toISOString(),
          to: s.last.toISOString(),
        },
      });
    }

    const threshold = this.config.alerts.authFailuresPerMinute;
    const totals = await this.repository.addAuthFailures([...denials.values()]);
    for (const total of totals) {
      if (!(total.before < threshold && total.after >= threshold)) continue;
      const f = facts.get(total.credentialId);
      const entry = denials.get(`${total.credentialId}|${new Date(total.minute).getTime()}`);
      if (!f || !entry) continue;
      occurrence(f, {
        type: 'auth_failures',
        at: entry.sighting.last,
        count: 1,
        evidence: {
          minute: new Date(total.minute).toISOString(),
          denials: total.after,
          threshold,
          codes: entry.sighting.codes,
          ips: [...entry.sighting.ips],
          sources: [...entry.sighting.sources],
        },
      });
    }

    const networkRows: Array<{ credentialId: string; network: string; at: Date }> = [];
    const watched: string[] = [];
    let earliest = Infinity;
    let handled = 0;
    for (const [id, use] of used) {
      // A slice at a time: a flush of thousands of credentials would otherwise hold every verification waiting meanwhile.
      if (++handled % SLICE === 0) await yieldToLoop();
      const f = facts.get(id);
      if (!f) continue;
      const cached = this.factsCache.get(id)!;
      const previous = Math.max(new Date(f.lastUsedAt ?? f.createdAt).getTime(), cached.lastUseMs);
      const idleMs = use.first.getTime() - previous;
      cached.lastUseMs = Math.max(cached.lastUseMs, use.last.getTime());
      if (idleMs >= DORMANT_DAYS * DAY_MS) {
        occurrence(f, {
          type: 'dormant_reactivated',
          at: use.first,
          count: 1,
          evidence: {
            previousUseAt: previous > new Date(f.createdAt).getTime() ? new Date(previous).toISOString() : null,
            issuedAt: new Date(f.createdAt).toISOString(),
            idleDays: Math.floor(idleMs / DAY_MS),
            usedAt: use.first.toISOString(),
            ip: use.firstIp,
          },
        });
      }
      if (f.ipAllowlist.length === 0 && use.networks.size > 0) {
        // Networks this process wrote within the hour are known: nothing to read or write for them.
        const unsure = [...use.networks].filter(([network, seen]) => {
          const touched = this.touched.get(`${id}|${network}`);
          return touched === undefined || seen.first.getTime() < touched || seen.first.getTime() - touched >= NETWORK_TOUCH_MS;
        });
        if (unsure.length === 0) continue;
        watched.push(id);
        for (const [network, seen] of unsure) {
          networkRows.push({ credentialId: id, network, at: seen.last });
          earliest = Math.min(earliest, seen.first.getTime());
        }
      }
    }
    if (watched.length) {
      const known = await this.repository.networksSince(watched, new Date(earliest - NETWORK_MEMORY_DAYS * DAY_MS));
      const byCredential = new Map<string, Map<string, Date>>();
      for (const row of known) {
        let networks = byCredential.get(row.credentialId);
        if (!networks) byCredential.set(row.credentialId, (networks = new Map()));
        networks.set(row.network, new Date(row.lastSeenAt));
      }
      const unsure = new Set(networkRows.map((r) => `${r.credentialId}|${r.network}`));
      for (const id of watched) {
        const networks = byCredential.get(id);
        const f = facts.get(id)!;
        for (const [network, seen] of used.get(id)!.networks) {
          if (!unsure.has(`${id}|${network}`)) continue;
          const since = seen.first.getTime() - NETWORK_MEMORY_DAYS * DAY_MS;
          // A credential with no network seen in the window has no baseline yet: its first networks make it, silently.
          const baseline = networks && [...networks.values()].some((at) => at.getTime() >= since);
          const last = networks?.get(network);
          if (!baseline || (last && last.getTime() >= since)) continue;
          occurrence(f, {
            type: 'new_network',
            at: seen.first,
            count: 1,
            evidence: {
              network,
              ip: seen.ip,
              previouslySeenAt: last ? last.toISOString() : null,
              knownNetworks: [...networks.entries()].filter(([, at]) => at.getTime() >= since).length,
            },
          });
        }
      }
      await this.repository.touchNetworks(networkRows);
      if (this.touched.size + networkRows.length > MAX_CACHED) this.touched.clear();
      for (const row of networkRows) this.touched.set(`${row.credentialId}|${row.network}`, row.at.getTime());
    }

    this.sightings += found.length;
    // Raised after observe resolves, a chunk at a time: the recorder's write does not wait for them (a burst of
    // sightings held every call recorded meanwhile in memory); flush() waits through settled(). Only a full backlog
    // holds observe (and so the recorder's write) until the raising makes room: a storm is never queued unboundedly.
    for (const o of found) {
      const added = this.backlog.put(o);
      this.startRaising();
      await added;
    }
  }

  /** Resolves once every sighting found so far is raised (or failed, logged). */
  override async settled(): Promise<void> {
    while (this.raising) await this.raising;
  }

  private startRaising(): void {
    if (this.raising || this.backlog.size === 0) return;
    // From the next turn of the event loop: the rest of the batch's sightings (put without waiting) join the first chunk.
    this.raising = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.raiseBacklog())
      // Never: raiseMany answers failures rather than throwing them; logged rather than an unhandled rejection.
      .catch((error: unknown) => this.logger.error({ err: (error as Error).message }, 'raising alerts stopped'))
      .finally(() => {
        this.raising = null;
        // A sighting put after the last take, before this ran.
        this.startRaising();
      });
  }

  /**
   * The backlog, RAISE_PER_TRANSACTION to a transaction (AlertsService.raiseMany), until it is empty. A chunk the
   * database was unavailable for is kept and raised again after a pause (doubling up to RETRY_MAX_MS): during an
   * outage the backlog fills and detection waits (alert-backlog.ts), no sighting is dropped.
   */
  private async raiseBacklog(): Promise<void> {
    for (;;) {
      let chunk: AlertOccurrence[] = this.backlog.take(RAISE_PER_TRANSACTION);
      if (chunk.length === 0) return;
      for (let attempt = 0; ; attempt++) {
        chunk = await this.alerts.raiseMany(chunk, (o, error) => {
          this.failedToRaise++;
          this.logger.warn({ type: o.type, credentialId: o.credentialId, err: error.message }, 'raising an alert failed');
        });
        if (chunk.length === 0) break;
        if (attempt === 0) this.logger.warn({ sightings: chunk.length }, 'the database is unavailable: alerts kept, raised again shortly');
        this.retried += chunk.length;
        await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt)));
      }
    }
  }

  /** The facts of these credentials: read again when older than FACTS_TTL_MS, in one query. */
  private async factsOf(ids: ReadonlySet<string>): Promise<Map<string, CredentialFacts>> {
    const now = this.clock.now().getTime();
    const stale = [...ids].filter((id) => {
      const cached = this.factsCache.get(id);
      return !cached || now - cached.readAt > FACTS_TTL_MS || now < cached.readAt;
    });
    if (this.factsCache.size + stale.length > MAX_CACHED) this.factsCache.clear();
    if (this.shared.size > MAX_CACHED) this.shared = new Map();
    const read = new Map((await this.repository.credentialFacts(stale)).map((f) => [f.id, f]));
    let done = 0;
    // Keyed by the id as the calls carried it (the verification cache's own string), not the row's copy of it.
    for (const id of stale) {
      if (++done % SLICE === 0) await yieldToLoop();
      const f = read.get(id);
      if (!f) continue;
      const lastUseMs = this.factsCache.get(id)?.lastUseMs ?? 0;
      this.factsCache.set(id, {
        agentId: this.share(f.agentId),
        ownerId: this.share(f.ownerId),
        status: this.share(f.status),
        ipAllowlist: f.ipAllowlist.length === 0 ? NO_ADDRESSES : f.ipAllowlist,
        lastUsedMs: f.lastUsedAt === null ? null : new Date(f.lastUsedAt).getTime(),
        createdMs: new Date(f.createdAt).getTime(),
        readAt: now,
        lastUseMs,
      });
    }
    const facts = new Map<string, CredentialFacts>();
    for (const id of ids) {
      if (++done % SLICE === 0) await yieldToLoop();
      const c = this.factsCache.get(id);
      if (!c) continue;
      facts.set(id, {
        id,
        agentId: c.agentId,
        ownerId: c.ownerId,
        status: c.status,
        ipAllowlist: [...c.ipAllowlist],
        lastUsedAt: c.lastUsedMs === null ? null : new Date(c.lastUsedMs),
        createdAt: new Date(c.createdMs),
      });
    }
    return facts;
  }

  /** One instance of a value many credentials have (agent and owner ids, statuses). */
  private share(value: string): string {
    const found = this.shared.get(value);
    if (found !== undefined) return found;
    this.shared.set(value, value);
    return value;
  }
}

function newSighting(record: UsageRecord): Sighting {
  return { calls: 0, first: record.at, last: record.at, ips: new Set(), codes: {}, versions: new Set(), sources: new Set() };
}

function add(s: Sighting, record: UsageRecord): void {
  s.calls++;
  if (record.at < s.first) s.first = record.at;
  if (record.at > s.last) s.last = record.at;
  if (record.ip !== null && s.ips.size < MAX_EVIDENCE_IPS) s.ips.add(record.ip);
  s.codes[record.code] = (s.codes[record.code] ?? 0) + 1;
  if (record.version !== undefined) s.versions.add(record.version);
  s.sources.add(record.call?.source ?? 'verify');
}

function see(map: Map<string, Sighting>, credentialId: string, record: UsageRecord): void {
  let s = map.get(credentialId);
  if (!s) map.set(credentialId, (s = newSighting(record)));
  add(s, record);
}
