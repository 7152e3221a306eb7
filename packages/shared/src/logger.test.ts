import { Writable } from 'node:stream';
import { describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { lazyChildLogger } from './logger.js';

/** A pino logger at `level` whose lines are collected. */
function capturing(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

describe('lazyChildLogger', () => {
  it("writes a request's lines with its bindings, as pino's child would", () => {
    const { logger, lines } = capturing('info');
    const child = lazyChildLogger(logger, { reqId: 'r-1' }, {});
    child.info({ url: '/x' }, 'incoming request');
    child.debug('not at this level');
    child.error(new Error('boom'));
    expect(lines).toEqual([
      expect.objectContaining({ reqId: 'r-1', url: '/x', msg: 'incoming request', level: 30 }),
      expect.objectContaining({ reqId: 'r-1', level: 50, err: expect.objectContaining({ message: 'boom' }) }),
    ]);
  });

  it('makes no pino child while nothing is logged at an enabled level', () => {
    const { logger, lines } = capturing('warn');
    const made = jest.spyOn(logger, 'child');
    const child = lazyChildLogger(logger, { reqId: 'r-2' }, {});
    child.info('incoming request');
    child.debug('details');
    expect(child.isLevelEnabled('info')).toBe(false);
    expect(made).not.toHaveBeenCalled();
    child.warn('slow');
    expect(made).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([expect.objectContaining({ reqId: 'r-2', msg: 'slow' })]);
  });

  it("follows a level set on the request's logger (a route's logLevel)", () => {
    const { logger, lines } = capturing('warn');
    const child = lazyChildLogger(logger, { reqId: 'r-3' }, {});
    child.level = 'debug';
    child.debug('now written');
    expect(child.level).toBe('debug');
    expect(lines).toEqual([expect.objectContaining({ reqId: 'r-3', msg: 'now written' })]);
  });

  it('hands on its bindings to children', () => {
    const { logger, lines } = capturing('info');
    lazyChildLogger(logger, { reqId: 'r-4' }, {}).child({ stream: 's' }).info('appended');
    expect(lines).toEqual([expect.objectContaining({ reqId: 'r-4', stream: 's', msg: 'appended' })]);
  });
});

describe('lazyChildLogger for a route with a level of its own', () => {
  it('logs at the route level, not the parent one', () => {
    const { logger, lines } = capturing('warn');
    lazyChildLogger(logger, { reqId: 'r-5' }, { level: 'debug' }).debug('route detail');
    expect(lines).toEqual([expect.objectContaining({ reqId: 'r-5', msg: 'route detail' })]);
  });
});
