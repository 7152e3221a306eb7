/**
 * What Jest's fake timers leave real to fake the wall clock alone (`jest.useFakeTimers({ now,
 * doNotFake: [...ONLY_THE_WALL_CLOCK] })`): Date moves, and timers, ticks, hrtime and
 * performance.now run on, as in a process whose clock is off while its connections and timers work.
 */
export const ONLY_THE_WALL_CLOCK = [
  'nextTick',
  'setImmediate',
  'clearImmediate',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'queueMicrotask',
  'hrtime',
  'performance',
] as const;
