/** The orders a duplicate queue can be read in, and which way each runs unless told. */

/** id: detection order (keyset paging); bytes: space freed; kind; distance: least alike; date: the keeper's capture time. */
export const GROUP_SORTS = ['id', 'bytes', 'kind', 'distance', 'date'] as const;
export type GroupSort = (typeof GROUP_SORTS)[number];

export const SORT_DIRECTIONS = ['asc', 'desc'] as const;
export type SortDirection = (typeof SORT_DIRECTIONS)[number];

/** Largest first for sizes and dates (the most space, the newest pictures); smallest first otherwise. */
export function defaultDirection(sort: GroupSort): SortDirection {
  return sort === 'bytes' || sort === 'date' ? 'desc' : 'asc';
}
