import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

import { yieldToLoop } from '../common/async/yield-to-loop';
import { arrayElements } from '../common/db/array-literal';

export interface UsageRollupRow {
  credentialId: string;
  hour: Date;
  /** '' when the call named no scope. */
  scope: string;
  outcome: 'allowed' | 'denied';
  /** '' when allowed. */
  denyCode: string;
  calls: number;
}

export interface UsageIpRollupRow {
  credentialId: string;
  hour: Date;
  ip: string;
  calls: number;
  denied: number;
}

/** Rows of a flush turned into parameter text per slice, between two yields to the event loop. */
const SLICE = 500;

/** A flush's rollups as the parameters of its statements (UsageRollupsRepository.prepare). */
export interface PreparedRollups {
  /** credential_id, hour, scope, outcome, deny_code, calls: one Postgres array literal each; null: no row. */
  hourly: string[] | null;
  /** credential_id, hour, ip, calls, denied; null: no row. */
  byIp: string[] | null;
}

/**
 * The hourly usage rollups (migrations/1796521235683-Enforcement.ts) and their
 * daily sums (migrations/1796534811799-UsageDaily.ts): calls are added to what
 * is there, so batches from any number of replicas, and a batch written again
 * after a failure of its transaction, sum correctly. The recorder writes a
 * batch to both in one transaction, so a day always equals its hours.
 *
 * A flush is prepared before its transaction and off the answer's path as far
 * as a single event loop can be: the rows become array-literal text SLICE rows
 * at a time with a yield to the loop between slices (a flush of thousands of
 * credentials was one block of sorting and formatting of tens of
 * milliseconds, during which no verification was answered). Postgres does the
 * rest: it sorts the rows (every writer locks rows in one order: no deadlock
 * between replicas) and sums the daily rows from the same parameters.
 */
@Injectable()
export class UsageRollupsRepository {
  /** The statements' parameters, built a slice at a time (yieldToLoop between slices). */
  async prepare(rows: readonly UsageRollupRow[], ipRows: readonly UsageIpRollupRow[]): Promise<PreparedRollups> {
    const instants = new Instants();
    return {
      hourly: await literals(rows, [
        (r) => r.credentialId,
        (r) => instants.of(r.hour),
        (r) => r.scope,
        (r) => r.outcome,
        (r) => r.denyCode,
        (r) => String(r.calls),
      ]),
      byIp: await literals(ipRows, [
        (r) => r.credentialId,
        (r) => instants.of(r.hour),
        (r) => r.ip,
        (r) => String(r.calls),
        (r) => String(r.denied),
      ]),
    };
  }

  /**
   * Adds a prepared flush: the hourly rows, the same rows summed per UTC day
   * (after the hourly ones, so every flush locks hourly rows, then daily rows),
   * and the per-address rows; each statement's rows in key order (ORDER BY,
   * text compared bytewise: the same order on every replica whatever its
   * locale).
   */
  async write(em: EntityManager, prepared: PreparedRollups): Promise<void> {
    if (prepared.hourly) {
      await em.query(
        `INSERT INTO usage_hourly (credential_id, hour, scope, outcome, deny_code, calls)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS r(c, h, s, o, d, n)
          ORDER BY c, h, s COLLATE "C", o COLLATE "C", d COLLATE "C"
         ON CONFLICT (credential_id, hour, scope, outcome, deny_code) DO UPDATE SET calls = usage_hourly.calls + excluded.calls`,
        prepared.hourly,
      );
      await em.query(
        `INSERT INTO usage_daily (credential_id, day, scope, outcome, deny_code, calls)
         SELECT c, date_trunc('day', h, 'UTC') AS day, s, o, d, sum(n)
           FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS r(c, h, s, o, d, n)
          GROUP BY c, day, s, o, d
          ORDER BY c, day, s COLLATE "C", o COLLATE "C", d COLLATE "C"
         ON CONFLICT (credential_id, day, scope, outcome, deny_code) DO UPDATE SET calls = usage_daily.calls + excluded.calls`,
        prepared.hourly,
      );
    }
    if (prepared.byIp) {
      await em.query(
        `INSERT INTO usage_ip_hourly (credential_id, hour, ip, calls, denied)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::bigint[], $5::bigint[]) AS r(c, h, i, n, d)
          ORDER BY c, h, i COLLATE "C"
         ON CONFLICT (credential_id, hour, ip) DO UPDATE
           SET calls = usage_ip_hourly.calls + excluded.calls, denied = usage_ip_hourly.denied + excluded.denied`,
        prepared.byIp,
      );
    }
  }
}

/** One array literal per column of `rows` (null for no rows), SLICE rows at a time with a yield to the loop between slices. */
async function literals<T>(rows: readonly T[], columns: Array<(row: T) => string>): Promise<string[] | null> {
  if (rows.length === 0) return null;
  const parts: string[][] = columns.map(() => []);
  for (let from = 0; from < rows.length; from += SLICE) {
    if (from > 0) await yieldToLoop();
    const slice = rows.slice(from, from + SLICE);
    columns.forEach((column, i) => parts[i]!.push(arrayElements(slice, column)));
  }
  return parts.map((slices) => `{${slices.join(',')}}`);
}

/**
 * Hours (and days) as ISO 8601 text for a timestamptz[] parameter, each
 * distinct instant formatted once: a batch's rows share a few hours, and pg's
 * own Date formatting (local time, field by field) was a tenth of a flush's
 * allocations.
 */
class Instants {
  private readonly text = new Map<number, string>();

  of(date: Date): string {
    const ms = date.getTime();
    let text = this.text.get(ms);
    if (text === undefined) this.text.set(ms, (text = date.toISOString()));
    return text;
  }
}
