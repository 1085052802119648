/**
 * List calls page as Google's API design guide says (AIP-158): `page_size` (0 → 20,
 * at most 100, larger clamped), an opaque `page_token` from the previous answer, and
 * `next_page_token`, empty on the last page. Pages are keyset pages: the token holds
 * the position (a row's `seq`) after which the next page starts, so rows added
 * meanwhile neither repeat nor shift a page. A token names its list, so one list's
 * token passed to another is refused rather than read as a position there.
 */
import { Code, fail } from 'berth';

export const defaultPageSize = 20;
export const maxPageSize = 100;

export interface PageRequest {
  readonly pageSize: number;
  readonly pageToken: string;
}

/** Where a page starts and how many rows it holds. */
export interface PageStart {
  /** The `seq` the previous page ended at; undefined for the first page. */
  readonly after: bigint | undefined;
  readonly size: number;
}

/** Reads `request` for the list called `list`; InvalidArgument on a negative size or a token not from this list. */
export function pageStart(list: string, request: PageRequest): PageStart {
  if (request.pageSize < 0) {
    fail(
      Code.InvalidArgument,
      `page_size must not be negative (got ${request.pageSize}); 0 means ${defaultPageSize}`,
    );
  }
  const size = Math.min(request.pageSize || defaultPageSize, maxPageSize);
  if (request.pageToken === '') return { after: undefined, size };
  const [name, position, ...rest] = Buffer.from(request.pageToken, 'base64url').toString('utf8').split(':');
  if (name !== list || rest.length > 0 || !/^\d{1,19}$/.test(position ?? '')) {
    fail(
      Code.InvalidArgument,
      'page_token is not one this list gave out: pass the next_page_token of the previous answer, or none for the first page',
    );
  }
  return { after: BigInt(position!), size };
}

/**
 * The page of `rows` (fetched with `size + 1` as the limit, so a further row says
 * there is another page) and the token of the next page.
 */
export function pageOf<Row extends { readonly seq: string }>(
  list: string,
  rows: readonly Row[],
  size: number,
): { rows: Row[]; nextPageToken: string } {
  if (rows.length <= size) return { rows: [...rows], nextPageToken: '' };
  const page = rows.slice(0, size);
  return { rows: page, nextPageToken: Buffer.from(`${list}:${page.at(-1)!.seq}`).toString('base64url') };
}
