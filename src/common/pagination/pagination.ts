import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { SelectQueryBuilder } from 'typeorm';

import { InvalidInputError } from '../errors/domain-error';

/** `?limit=&cursor=` shared by every list endpoint. */
export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from a previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export const DEFAULT_PAGE_SIZE = 50;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Keyset position: newest first by (createdAt, id). */
export interface TimeCursor {
  createdAt: Date;
  id: string;
}

export function encodeTimeCursor(position: TimeCursor): string {
  return Buffer.from(JSON.stringify([position.createdAt.toISOString(), position.id])).toString('base64url');
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Years 0001..9999, written the way encodeTimeCursor writes them. JavaScript
 * dates reach ±275760, Postgres timestamps only 4713 BC..294276 AD: a forged
 * cursor outside them failed the list query (500) instead of being refused.
 */
const CURSOR_TIME_RE = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The one decoder of every `(createdAt, id)` list cursor: anything but what encodeTimeCursor wrote is a 400. */
export function decodeTimeCursor(cursor: string | undefined): TimeCursor | null {
  if (cursor === undefined) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      const createdAt = new Date(value[0]);
      if (
        CURSOR_TIME_RE.test(value[0]) &&
        !Number.isNaN(createdAt.getTime()) &&
        createdAt.toISOString() === value[0] &&
        UUID_RE.test(value[1])
      ) {
        return { createdAt, id: value[1] };
      }
    }
  } catch {
    // fall through to the 400 below
  }
  throw InvalidInputError.field('cursor', 'is not a cursor this API issued');
}

/**
 * Builds a page from rows fetched with `limit + 1`: the extra row only says
 * whether another page exists.
 */
export function toPage<R, T>(rows: R[], limit: number, cursorOf: (row: R) => string, map: (row: R) => T): Page<T> {
  const hasMore = rows.length > limit;
  const pageRows = hasMore ? rows.slice(0, limit) : rows;
  return {
    items: pageRows.map(map),
    nextCursor: hasMore ? cursorOf(pageRows[pageRows.length - 1]) : null,
  };
}

/** The same page with each item mapped (a repository's rows to a service's views). */
export function mapPage<R, T>(page: Page<R>, map: (row: R) => T): Page<T> {
  return { items: page.items.map(map), nextCursor: page.nextCursor };
}

export class PageResponseDto {
  @ApiProperty({ type: String, nullable: true, description: 'Pass as ?cursor= for the next page; null on the last page' })
  nextCursor!: string | null;
}

/**
 * Runs a list query newest first by (created_at, id), from the cursor's
 * position, and returns one page. Every list of time-ordered rows uses this, so
 * paging behaves the same everywhere.
 */
export async function fetchTimePage<E extends { createdAt: Date; id: string }, T>(
  qb: SelectQueryBuilder<E>,
  alias: string,
  query: { limit?: number; cursor?: string },
  map: (row: E) => T,
): Promise<Page<T>> {
  return fetchTimePageOf([qb], alias, query, map);
}

/**
 * As `fetchTimePage`, over the union of disjoint queries (one list read through
 * two indexes, say): each runs from the cursor, newest first, `limit + 1` rows;
 * the page is the newest of them all.
 */
export async function fetchTimePageOf<E extends { createdAt: Date; id: string }, T>(
  qbs: Array<SelectQueryBuilder<E>>,
  alias: string,
  query: { limit?: number; cursor?: string },
  map: (row: E) => T,
): Promise<Page<T>> {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const after = decodeTimeCursor(query.cursor);
  const parts = await Promise.all(
    qbs.map((qb) => {
      if (after) {
        qb.andWhere(`(${alias}.created_at, ${alias}.id) < (:cursorAt, :cursorId)`, {
          cursorAt: after.createdAt,
          cursorId: after.id,
        });
      }
      return qb
        .orderBy(`${alias}.created_at`, 'DESC')
        .addOrderBy(`${alias}.id`, 'DESC')
        .limit(limit + 1)
        .getMany();
    }),
  );
  // Lowercase UUIDs compare as strings in the order Postgres sorts them.
  const rows =
    parts.length === 1
      ? parts[0]
      : parts
          .flat()
          .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
          .slice(0, limit + 1);
  return toPage(rows, limit, (row) => encodeTimeCursor(row), map);
}
