import { Type as NestType } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { HookhubError } from '../errors/error-codes';
import { isUuid } from '../ids';
import { isTimestamp } from '../http/validation';

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;

/** Query parameters shared by every list endpoint: keyset pagination, newest first. */
export class PageQueryDto {
  // Described by hand: the Swagger plugin reads only `*.dto.ts` files, so without these the lists' `limit`
  // and `cursor` were missing from /docs-json.
  /** How many items to return (1-200). @example 50 */
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_LIMIT,
    default: DEFAULT_PAGE_LIMIT,
    example: 50,
    description: 'How many items to return (1-200).',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_LIMIT)
  limit?: number;

  /** The `next_cursor` of the previous page; omit for the first page. */
  @ApiPropertyOptional({
    type: String,
    maxLength: 512,
    description: 'The `next_cursor` of the previous page; omit for the first page.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Items matching the filters, over all pages. */
  total: number;
  /** Pass as `cursor` to get the next page; null on the last page. */
  next_cursor: string | null;
}

interface CursorPosition {
  t: string;
  id: string;
}

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify({ t: createdAt.toISOString(), id } satisfies CursorPosition)).toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorPosition>;
    // A time Postgres reads too: Date.parse alone let `2026-02-30T00:00:00Z` through to a 500.
    if (isTimestamp(parsed.t) && typeof parsed.id === 'string' && isUuid(parsed.id)) {
      return { t: parsed.t, id: parsed.id };
    }
  } catch {
    // fall through
  }
  throw HookhubError.badRequest('Invalid cursor: pass the next_cursor of a previous page unchanged', [
    { field: 'cursor', errors: ['cursor is not valid'] },
  ]);
}

/** `%text%` for ILIKE, with `%`, `_` and `\` in the text matching themselves (Postgres's default escape is `\`). */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

/** Narrows a list to `created_at` in `[from, to)`, the time range every list filter takes. */
export function createdBetween<E extends ObjectLiteral>(
  qb: SelectQueryBuilder<E>,
  alias: string,
  range: { from?: string; to?: string },
): SelectQueryBuilder<E> {
  if (range.from) qb.andWhere(`${alias}.created_at >= :from`, { from: range.from });
  if (range.to) qb.andWhere(`${alias}.created_at < :to`, { to: range.to });
  return qb;
}

/**
 * Runs a keyset-paginated query, newest first, over `(created_at, id)` of `alias` (an index on
 * `(created_at DESC, id DESC)` makes it an index scan). Returns the page and the total count.
 */
export async function paginate<E extends ObjectLiteral & { id: string; createdAt: Date }, R>(
  qb: SelectQueryBuilder<E>,
  alias: string,
  query: PageQueryDto,
  map: (entity: E) => R,
): Promise<Page<R>> {
  const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
  const total = await qb.clone().getCount();
  const paged = qb.clone();
  if (query.cursor) {
    const position = decodeCursor(query.cursor);
    paged.andWhere(`(${alias}.created_at, ${alias}.id) < (:cursorT, :cursorId)`, {
      cursorT: position.t,
      cursorId: position.id,
    });
  }
  const rows = await paged
    .orderBy(`${alias}.created_at`, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    .take(limit + 1)
    .getMany();
  const hasMore = rows.length > limit;
  const items = hasMore ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return {
    items: items.map(map),
    total,
    next_cursor: hasMore && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

/** A Swagger-described page class for `item`, e.g. `class UserPage extends PageOf(UserDto) {}`. */
export function PageOf<T>(item: NestType<T>): NestType<Page<T>> {
  class PageDto implements Page<T> {
    @ApiProperty({ type: () => [item] })
    items!: T[];

    @ApiProperty({ example: 1, description: 'Items matching the filters, over all pages.' })
    total!: number;

    @ApiPropertyOptional({
      type: String,
      nullable: true,
      example: null,
      description: 'Pass as `cursor` to get the next page; null on the last page.',
    })
    next_cursor!: string | null;
  }
  return PageDto;
}
