import { describe, expect, it } from '@jest/globals';
import { addressedHost, namedHostMatcher, openHost } from './open-host.js';

describe('openHost', () => {
  it.each([
    ['', true],
    ['localhost', true],
    ['LOCALHOST.', true],
    ['a.b.localhost', true],
    ['[::ffff:127.0.0.1]', true],
    ['192.168.1.20', true],
    ['localhost.example', false],
    ['example.com', false],
    ['127.0.0.1.nip.io', false],
    ['[not-ip]', false],
  ])('%p → %p', (hostname, open) => {
    expect(openHost(hostname)).toBe(open);
  });
});

describe('namedHostMatcher (METRICS_HOSTS)', () => {
  it('answers the names listed, in any case and with a trailing dot, and names under a "*." entry', () => {
    const listed = namedHostMatcher(['spool-ingest', '*.svc.cluster.local']);
    expect(['spool-ingest', 'SPOOL-INGEST.', 'ingest.spool.svc.cluster.local'].map(listed)).toEqual([
      true,
      true,
      true,
    ]);
    expect(
      ['spool-ingest.evil.example', 'svc.cluster.local', 'evilsvc.cluster.local', 'attacker.example', ''].map(
        listed,
      ),
    ).toEqual([false, false, false, false, false]);
  });

  it('answers every name for "*", and none for an empty list', () => {
    expect(namedHostMatcher(['*'])('attacker.example')).toBe(true);
    expect(namedHostMatcher([])('spool-ingest')).toBe(false);
  });
});

describe('addressedHost', () => {
  it.each([
    [undefined, ''],
    ['', ''],
    ['127.0.0.1:8080', '127.0.0.1'],
    ['spool-ingest', 'spool-ingest'],
    ['[::1]:9464', '[::1]'],
    ['[::1]', '[::1]'],
    ['attacker.example:80', 'attacker.example'],
  ])('%p → %p', (header, host) => {
    expect(addressedHost(header)).toBe(host);
  });
});
