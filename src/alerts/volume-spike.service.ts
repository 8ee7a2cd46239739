import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { Clock, DAY_MS, HOUR_MS } from '../common/clock/clock';
import { chunks } from '../common/collections/chunks';
import { tryAdvisoryXactLock } from '../common/db/advisory-lock';
import { AppConfig } from '../config/app-config';
import { NETWORK_MEMORY_DAYS, SPIKE_BASELINE_HOURS, SPIKE_FACTOR } from './alert-types';
import { AlertsRepository } from './alerts.repository';
import { AlertsService, RAISE_PER_TRANSACTION } from './alerts.service';

/** Closed hours one round catches up on at most (a scheduler down for longer skips the older ones). */
const MAX_HOURS_PER_ROUND = 24;
const LOCK = 'alerts:volume-spike';

/**
 * `volume_spike` needs a closed hour: each round evaluates every hour that
 * ended at least the settle time ago (two usage flushes, at least a minute, so
 * the hour's rollups are written) and was not evaluated yet, from the hourly
 * rollups. An hour is evaluated once across scheduler replicas (advisory lock
 * and alert_spike_hours, in the transaction that raises its alerts). The round
 * also forgets per-minute denial counts older than an hour and networks unseen
 * for 30 days.
 */
@Injectable()
export class VolumeSpikeService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: AlertsRepository,
    private readonly alerts: AlertsService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  async sweep(): Promise<{ hours: number; spikes: number; prunedMinutes: number; prunedNetworks: number }> {
    const now = this.clock.now();
    const settleMs = Math.max(60_000, 2 * this.config.enforcement.usageFlushIntervalMs);
    const lastClosed = Math.floor((now.getTime() - settleMs) / HOUR_MS) * HOUR_MS - HOUR_MS;
    let hours = 0;
    let spikes = 0;
    await this.dataSource.transaction(async (em) => {
      if (!(await tryAdvisoryXactLock(em, LOCK))) return;
      const last = await this.repository.lastSpikeHour(em);
      let hour = Math.max(last ? new Date(last).getTime() + HOUR_MS : lastClosed, lastClosed - (MAX_HOURS_PER_ROUND - 1) * HOUR_MS);
      for (; hour <= lastClosed; hour += HOUR_MS) {
        const start = new Date(hour);
        if (!(await this.repository.claimSpikeHour(em, start, now))) continue;
        hours++;
        const rows = await this.repository.spikes(em, start, this.config.alerts.spikeMinCalls, SPIKE_FACTOR, SPIKE_BASELINE_HOURS);
        // Set-based, a few hundred to a statement (AlertsService.raiseAllIn): an hour every credential spiked in is a few statements.
        for (const chunk of chunks(rows, RAISE_PER_TRANSACTION)) {
          await this.alerts.raiseAllIn(
            em,
            null,
            chunk.map((row) => ({
              type: 'volume_spike' as const,
              credentialId: row.credentialId,
              agentId: row.agentId,
              ownerId: row.ownerId,
              at: new Date(hour + HOUR_MS - 1),
              firstAt: start,
              count: 1,
              evidence: {
                hour: start.toISOString(),
                calls: row.calls,
                medianHourlyCalls: row.median,
                factor: SPIKE_FACTOR,
                minCalls: this.config.alerts.spikeMinCalls,
                baselineHours: SPIKE_BASELINE_HOURS,
              },
            })),
          );
        }
        await this.repository.countSpikeHour(em, start, rows.length);
        spikes += rows.length;
      }
    });
    const pruned = await this.repository.prune(new Date(now.getTime() - HOUR_MS), new Date(now.getTime() - NETWORK_MEMORY_DAYS * DAY_MS));
    return { hours, spikes, prunedMinutes: pruned.minutes, prunedNetworks: pruned.networks };
  }
}
