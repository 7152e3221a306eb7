/** A stream name: lower-case letters, digits, `_` and `-`, 1 to 64 characters, not starting with `_`/`-`. */
export const STREAM_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function isValidStreamName(name: string): boolean {
  return STREAM_NAME_PATTERN.test(name);
}
