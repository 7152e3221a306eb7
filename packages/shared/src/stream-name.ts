/** A stream name: lower-case letters, digits, `_` and `-`, 1 to 64 characters, not starting with `_`/`-`. */
export const STREAM_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function isValidStreamName(name: string): boolean {
  return STREAM_NAME_PATTERN.test(name);
}

/**
 * A stream name taken from a request's URL, as a string of its own. A route's parameter is a
 * slice of the URL, and V8 keeps a slice's whole parent alive: remembered as a registration or a
 * metrics label, each name held its request's URL, query string and all (a review's ingest, its
 * heap 128 MB, ran out after 7,000 requests to new streams with 14 KB URLs). Concatenated, the
 * name is copied into a string of its own, and the slice of it holds just that.
 */
export function ownStreamName(param: string): string {
  return ` ${param}`.slice(1);
}
