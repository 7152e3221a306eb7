import { describe, expect, it } from '@jest/globals';
import { errors } from './errors.js';
import { shardedRefusal, storedEventsOf } from './group-commit.js';

const full = () => new errors.SPOOL_BUFFER_FULL('web#1', 100);
const unconfirmed = () => new errors.SPOOL_REDIS_UNAVAILABLE();
const NONE = { accepted: 0, duplicates: 0, abandoned: 0 };
const answer = (stream: string, refusals: Error[], parts: number) =>
  (shardedRefusal(stream, refusals, parts, NONE) as { code?: string }).code;

describe('the answer to a sharded request with refused parts', () => {
  it('is SPOOL_PARTLY_STORED when some part was stored', () => {
    expect(answer('web', [full()], 2)).toBe('SPOOL_PARTLY_STORED');
    expect(answer('web', [unconfirmed(), full()], 3)).toBe('SPOOL_PARTLY_STORED');
  });

  it('carries what the stored parts stored, for the accepted count; other errors carry nothing', () => {
    const stored = { accepted: 3, duplicates: 1, abandoned: 2 };
    expect(storedEventsOf(shardedRefusal('web', [full()], 2, stored))).toEqual(stored);
    expect(storedEventsOf(shardedRefusal('web', [full(), full()], 2, NONE))).toBeUndefined();
    expect(storedEventsOf(new Error('boom'))).toBeUndefined();
  });

  it("keeps the refusals' meaning when every part was refused the same way", () => {
    expect(answer('web', [full(), full()], 2)).toBe('SPOOL_BUFFER_FULL');
    expect(answer('web', [unconfirmed(), unconfirmed()], 2)).toBe('SPOOL_REDIS_UNAVAILABLE');
  });

  it('says "may be stored" when every part was refused, one of them unconfirmed, whatever the order', () => {
    // Not "some of the events were stored": none is known to be.
    expect(answer('web', [full(), unconfirmed()], 2)).toBe('SPOOL_REDIS_UNAVAILABLE');
    expect(answer('web', [unconfirmed(), full()], 2)).toBe('SPOOL_REDIS_UNAVAILABLE');
    expect(answer('web', [full(), new errors.SPOOL_SHUTTING_DOWN()], 2)).toBe('SPOOL_BUFFER_FULL');
  });
});
