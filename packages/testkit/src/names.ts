import { randomBytes } from 'node:crypto';

/**
 * A fresh name for one test's stream or queue, so tests sharing one Redis never see each
 * other's keys. Lower-case and short enough to be a valid Spool stream name.
 */
export function randomName(prefix = 't'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
