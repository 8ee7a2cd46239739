import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

import { DAY_MS } from '../common/clock/clock';

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

/**
 * The hourly usage rollups (migrations/1796521235683-Enforcement.ts) and their
 * daily sums (migrations/1796534811799-UsageDaily.ts): calls are added to what
 * is there, so batches from any number of replicas, and a batch written again
 * after a failure of its transaction, sum correctly. The recorder writes a
 * batch to both in one transaction, so a day always equals its hours.
 */
@Injectable()
export class UsageRollupsRepository {
  async add(em: EntityManager, rows: UsageRollupRow[]): Promise<void> {
    await this.addSums(em, 'usage_hourly', 'hour', rows);
  }

  /**
   * The same rows summed per UTC day (one upsert, sorted by key like the hourly
   * one; called after it in the same transaction, so every flush locks hourly
   * rows, then daily rows, each in key order).
   */
  async addDaily(em: EntityManager, rows: UsageRollupRow[]): Promise<void> {
    const byDay = new Map<string, UsageRollupRow>();
    for (const row of rows) {
      const day = new Date(Math.floor(row.hour.getTime() / DAY_MS) * DAY_MS);
      const key = keyOf({ ...row, hour: day });
      const sum = byDay.get(key);
      if (sum) sum.calls += row.calls;
      else byDay.set(key, { ...row, hour: day });
    }
    await this.addSums(em, 'usage_daily', 'day', [...byDay.values()]);
  }

  /**
   * Adds rows to a rollup table whose bucket column is `bucket` (`row.hour`
   * holds the bucket's start). Sorted by key: concurrent flushes of several
   * replicas lock rows in one order (no deadlock).
   */
  private async addSums(
    em: EntityManager,
    table: 'usage_hourly' | 'usage_daily',
    bucket: 'hour' | 'day',
    rows: UsageRollupRow[],
  ): Promise<void> {
    if (rows.length === 0) return;
    const sorted = sortedBy(rows, keyOf);
    const instants = new Instants();
    await em.query(
      `INSERT INTO ${table} (credential_id, ${bucket}, scope, outcome, deny_code, calls)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[])
       ON CONFLICT (credential_id, ${bucket}, scope, outcome, deny_code) DO UPDATE SET calls = ${table}.calls + excluded.calls`,
      [
        arrayLiteral(sorted, (r) => r.credentialId),
        arrayLiteral(sorted, (r) => instants.of(r.hour)),
        arrayLiteral(sorted, (r) => r.scope),
        arrayLiteral(sorted, (r) => r.outcome),
        arrayLiteral(sorted, (r) => r.denyCode),
        arrayLiteral(sorted, (r) => String(r.calls)),
      ],
    );
  }

  async addByIp(em: EntityManager, rows: UsageIpRollupRow[]): Promise<void> {
    if (rows.length === 0) return;
    const sorted = sortedBy(rows, (r) => `${r.credentialId}|${r.hour.getTime()}|${r.ip}`);
    const instants = new Instants();
    await em.query(
      `INSERT INTO usage_ip_hourly (credential_id, hour, ip, calls, denied)
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::bigint[], $5::bigint[])
       ON CONFLICT (credential_id, hour, ip) DO UPDATE
         SET calls = usage_ip_hourly.calls + excluded.calls, denied = usage_ip_hourly.denied + excluded.denied`,
      [
        arrayLiteral(sorted, (r) => r.credentialId),
        arrayLiteral(sorted, (r) => instants.of(r.hour)),
        arrayLiteral(sorted, (r) => r.ip),
        arrayLiteral(sorted, (r) => String(r.calls)),
        arrayLiteral(sorted, (r) => String(r.denied)),
      ],
    );
  }
}

function keyOf(r: UsageRollupRow): string {
  return `${r.credentialId}|${r.hour.getTime()}|${r.scope}|${r.outcome}|${r.denyCode}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The rows in the order of their keys, each key made once (a comparator that
 * built both keys made 2·n·log n strings a flush: the recorder's largest
 * allocation per call when every call is of another credential).
 */
function sortedBy<T>(rows: T[], key: (row: T) => string): T[] {
  const keyed = rows.map((row) => ({ key: key(row), row }));
  keyed.sort((a, b) => compare(a.key, b.key));
  return keyed.map((k) => k.row);
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

/** An element that needs no quotes in an array literal: not empty, not NULL, none of `{}",\` nor white space. */
const PLAIN_ELEMENT = /^[^{}",\\\s]+$/;
const NULL_WORD = /^null$/i;

/**
 * The Postgres array literal of the rows' values (the text of a `text[]`-like
 * parameter), each element quoted only when it needs to be. pg's own
 * conversion quotes and escapes every element with two regex replaces: per
 * row of a flush, i.e. per call when calls are of many credentials.
 */
export function arrayLiteral<T>(rows: readonly T[], value: (row: T) => string): string {
  let text = '{';
  for (let i = 0; i < rows.length; i++) {
    const element = value(rows[i]!);
    if (i > 0) text += ',';
    text += PLAIN_ELEMENT.test(element) && !NULL_WORD.test(element) ? element : `"${element.replace(/[\\"]/g, '\\$&')}"`;
  }
  return text + '}';
}
