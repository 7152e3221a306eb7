import { describe, expect, it } from '@jest/globals';
import { describeRedisTarget, parseClusterNodes, tlsMismatchHint, usesTls } from './redis-target.js';

describe('parseClusterNodes', () => {
  it('reads host:port seeds, IPv6 in brackets', () => {
    expect(parseClusterNodes(' redis-0.redis:6379 , [::1]:7000').nodes).toEqual([
      { host: 'redis-0.redis', port: 6379 },
      { host: '::1', port: 7000 },
    ]);
  });

  it('takes credentials and TLS from URL entries, for every node', () => {
    const target = parseClusterNodes('rediss://spool:p%40ss@a:7000,b:7001');
    expect(target).toMatchObject({ username: 'spool', password: 'p@ss', tls: true });
    expect(target.nodes).toEqual([
      { host: 'a', port: 7000 },
      { host: 'b', port: 7001 },
    ]);
    expect(parseClusterNodes('redis://:secret@a').nodes).toEqual([{ host: 'a', port: 6379 }]);
  });

  it.each([
    ['', /entry 1 is empty/],
    ['a:7000,,b:7001', /entry 2 is empty/],
    ['a', /entry 1 is not host:port/],
    ['a:99999', /entry 1: port 99999 is out of range/],
    ['http://a:7000', /expected redis:\/\/ or rediss:\/\//],
    ['redis://a:7000/2', /no databases/],
    ['redis://:one@a:7000,redis://:two@b:7000', /entry 2: its credentials or scheme differ/],
    ['redis://a:7000,rediss://b:7000', /entry 2: its credentials or scheme differ/],
  ])('refuses %j', (text, message) => {
    expect(() => parseClusterNodes(text)).toThrow(message);
  });

  it('never puts a password in its messages', () => {
    let message = '';
    try {
      parseClusterNodes('redis://:hunter2-secret@a:7000,redis://:other-secret@b:7000');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/differ/);
    expect(message).not.toMatch(/secret/);
  });
});

describe('describeRedisTarget', () => {
  it('hides passwords', () => {
    expect(describeRedisTarget({ kind: 'standalone', url: 'redis://u:hunter2@r:6379/1' })).toBe(
      'redis://u:***@r:6379/1',
    );
    // redis-cli's way to write a password alone; ioredis (so Spool) reads it as a user name.
    expect(describeRedisTarget({ kind: 'standalone', url: 'redis://hunter2@r:6379' })).toBe(
      'redis://***@r:6379',
    );
    expect(describeRedisTarget(parseClusterNodes('redis://:hunter2@a:7000,[::1]:7001'))).toBe(
      'cluster a:7000,[::1]:7001',
    );
  });
});

function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('usesTls', () => {
  it('is on for rediss:// and for a cluster whose entries say rediss://', () => {
    expect(usesTls({ kind: 'standalone', url: 'rediss://redis.internal:6380' })).toBe(true);
    expect(usesTls({ kind: 'standalone', url: 'redis://redis.internal:6379' })).toBe(false);
    expect(usesTls({ kind: 'standalone', url: '/run/redis.sock' })).toBe(false);
    expect(usesTls(parseClusterNodes('rediss://a:7000,rediss://b:7001'))).toBe(true);
    expect(usesTls(parseClusterNodes('a:7000,b:7001'))).toBe(false);
  });
});

describe('tlsMismatchHint', () => {
  it('names the scheme to use for a timed-out TLS handshake and for a plain connection reset at once', () => {
    expect(tlsMismatchHint(errorWithCode('connect ETIMEDOUT', 'ETIMEDOUT'), true)).toContain('use redis://');
    expect(tlsMismatchHint(errorWithCode('read ECONNRESET', 'ECONNRESET'), false)).toContain('use rediss://');
  });

  it('says nothing for errors a TLS mismatch does not explain', () => {
    expect(tlsMismatchHint(errorWithCode('connect ETIMEDOUT', 'ETIMEDOUT'), false)).toBeUndefined();
    expect(tlsMismatchHint(errorWithCode('read ECONNRESET', 'ECONNRESET'), true)).toBeUndefined();
    expect(tlsMismatchHint(errorWithCode('connect ECONNREFUSED', 'ECONNREFUSED'), true)).toBeUndefined();
    expect(tlsMismatchHint(new Error('self-signed certificate'), true)).toBeUndefined();
  });
});
