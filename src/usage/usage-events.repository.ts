import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { DAY_MS } from '../common/clock/clock';
import { copyIn } from '../common/db/copy-in';
import { SqlParams } from '../common/db/sql-params';
import type { UsageEventCopyBatch } from './usage-event-copy-batch';
import type { UsageEventRecord } from './usage-event-sink';

/** `usage_events_p20261206`: the partition holding the UTC day that starts at `day`. */
export function partitionName(day: Date): string {
  return `usage_events_p${day.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

const PARTITION_RE = /^usage_events_p(\d{4})(\d{2})(\d{2})$/;

export function dayOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);
}

interface UsageEventRow {
  id: string;
  at: Date;
  credential_id: string;
  client_id: string;
  owner_id: string;
  source: UsageEventRecord['source'];
  gateway_id: string | null;
  method: string | null;
  path: string | null;
  scope: string | null;
  status_code: number | null;
  ip: string | null;
  request_id: string | null;
  outcome: UsageEventRecord['outcome'];
  deny_code: string | null;
}

const COPY_SQL = `COPY usage_events (id, at, credential_id, client_id, owner_id, source, gateway_id, method, path, scope,
                                      status_code, ip, request_id, outcome, deny_code) FROM STDIN`;

/**
 * The per-call records table (migrations/1796523711398-UsageEvents.ts) and its
 * day partitions. A batch is one `COPY … FROM STDIN` (src/common/db/copy-in.ts) of
 * the text its records were kept as (src/usage/usage-event-copy-batch.ts), streamed
 * block by block: one statement however many rows, and cheaper for both sides
 * than a multi-row INSERT of the same rows.
 */
@Injectable()
export class UsageEventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(batch: UsageEventCopyBatch): Promise<void> {
    if (batch.size === 0) return;
    await copyIn(this.dataSource, COPY_SQL, batch.chunks());
  }

  /** Creates the partition of `day` unless it exists; another replica creating it at the same moment is fine. */
  async createPartition(day: Date): Promise<boolean> {
    const next = new Date(day.getTime() + DAY_MS);
    try {
      await this.dataSource.query(
        `CREATE TABLE IF NOT EXISTS "${partitionName(day)}" PARTITION OF usage_events
           FOR VALUES FROM ('${day.toISOString()}') TO ('${next.toISOString()}')`,
      );
      return true;
    } catch (error) {
      // 42P07 duplicate_table, 23505 (pg_type's unique index): a concurrent CREATE won.
      const code = (error as { code?: string }).code;
      if (code === '42P07' || code === '23505') return false;
      throw error;
    }
  }

  /** The days that have a partition. */
  async partitionDays(): Promise<Date[]> {
    const rows: Array<{ name: string }> = await this.dataSource.query(
      `SELECT c.relname AS name FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'usage_events'`,
    );
    return rows.flatMap(({ name }) => {
      const m = PARTITION_RE.exec(name);
      return m ? [new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00.000Z`)] : [];
    });
  }

  /** Drops a whole day: one catalogue change, no row-by-row delete. */
  async dropPartition(day: Date): Promise<void> {
    await this.dataSource.query(`DROP TABLE IF EXISTS "${partitionName(day)}"`);
  }

  async list(query: {
    credentialId?: string;
    ownerId?: string;
    from?: Date;
    to?: Date;
    after?: { at: Date; id: string };
    limit: number;
  }): Promise<UsageEventRecord[]> {
    const params = new SqlParams();
    const where: string[] = [];
    if (query.credentialId) where.push(`credential_id = ${params.add(query.credentialId)}`);
    if (query.ownerId) where.push(`owner_id = ${params.add(query.ownerId)}`);
    if (query.from) where.push(`at >= ${params.add(query.from)}`);
    if (query.to) where.push(`at < ${params.add(query.to)}`);
    if (query.after) where.push(`(at, id) < (${params.add(query.after.at)}, ${params.add(query.after.id)})`);
    const rows: UsageEventRow[] = await this.dataSource.query(
      `SELECT * FROM usage_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY at DESC, id DESC LIMIT ${params.add(query.limit)}`,
      params.values,
    );
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      credentialId: r.credential_id,
      clientId: r.client_id,
      ownerId: r.owner_id,
      source: r.source,
      gatewayId: r.gateway_id,
      method: r.method,
      path: r.path,
      scope: r.scope,
      statusCode: r.status_code,
      ip: r.ip,
      requestId: r.request_id,
      outcome: r.outcome,
      denyCode: r.deny_code,
    }));
  }
}
