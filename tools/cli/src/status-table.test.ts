import { describe, expect, it } from '@jest/globals';
import { noTotals, type Status } from '@spool/flusher/dist/status/status.js';
import { renderStatus } from './status-table.js';

/**
 * A status as a flusher before its alerts and states sends it (they are made at rendering, by the
 * flusher's rules, status-alerts.ts): the tests below change its fields after building it.
 */
function status(streams: Array<Partial<Status['streams'][number]> & { stream: string }>): Status {
  return {
    generatedAt: '2026-12-01T00:00:00.000Z',
    settings: { flushThresholdBytes: 1024, maxBufferBytes: 4096, flushIntervalMs: 60_000 },
    totals: {
      ...noTotals(false),
      streams: streams.length,
      stuck: streams.filter((row) => row.stuck).length,
      nearlyFull: streams.filter((row) => row.nearlyFull).length,
      countersLost: streams.filter((row) => row.countersLost).length,
    },
    streams: streams.map((row) => ({
      bufferBytes: 512,
      thresholdShare: 0.5,
      maxShare: 0.125,
      ageMs: 1_500,
      generation: 3,
      sealedGenerations: 0,
      sealedBytes: 0,
      oldestSealedAgeMs: null,
      accepted: 1_234_567,
      landed: 1_234_000,
      duplicates: 2,
      rejected: 1,
      quarantineDropped: 0,
      acceptedBytes: 0,
      eventsPerSecond: 1_500,
      bytesPerSecond: 2048,
      lastObject: null,
      stuck: false,
      nearlyFull: false,
      countersLost: false,
      ...row,
    })),
    limit: 50,
    queue: { waiting: 0, active: 1, delayed: 0, failed: 0, prioritized: 0, oldestWaitingAgeMs: null },
    lastFlushError: null,
    redis: {
      nodes: 1,
      usedMemoryBytes: 1 << 20,
      maxMemoryBytes: 0,
      evictionPolicies: ['noeviction'],
      aofEnabled: true,
      warnings: [],
      notes: [],
    },
  } as unknown as Status;
}

describe('the status table', () => {
  it('keeps the columns that fit a narrow terminal, and clips a long stream name', () => {
    const lines = renderStatus(
      status([{ stream: 'a-very-long-stream-name-that-goes-on-and-on' }, { stream: 'web' }]),
      { width: 40, color: false },
    );
    const table = lines.slice(lines.indexOf('') + 1);
    for (const line of table) expect(line.length).toBeLessThanOrEqual(40);
    expect(table[0]).toMatch(/^stream +state +buffer/);
    // Cut by its middle: names that differ at their end stay told apart.
    expect(table[1]).toMatch(/^a-very…and-on +ok /);
  });

  it('tells stuck streams by their words, without colour: STUCK in their row, named in the alert', () => {
    const lines = renderStatus(
      status([
        { stream: 'billing-events-eu-west-1-staging', stuck: true },
        { stream: 'billing-events-eu-west-1-production' },
      ]),
      { width: 80, color: false },
    );
    expect(lines).toContain(
      '! 1 stream(s) stuck: data older than twice FLUSH_INTERVAL (2.0 min): billing-events-eu-west-1-staging',
    );
    const rows = lines.filter((line) => line.startsWith('billing'));
    expect(rows).toEqual([
      expect.stringMatching(/^billing-event…st-1-staging +STUCK /),
      expect.stringMatching(/^billing-event…1-production +ok /),
    ]);
  });

  it('names at most five stuck streams in its alert, a line and not a screen', () => {
    const answer = status(Array.from({ length: 7 }, (_, n) => ({ stream: `stream-${n}`, stuck: true })));
    expect(renderStatus(answer, { width: 120, color: false })).toContain(
      '! 7 stream(s) stuck: data older than twice FLUSH_INTERVAL (2.0 min): stream-0, stream-1, stream-2, stream-3, stream-4 and 2 more',
    );
  });

  it('names the stuck streams among those shown, and counts the rest', () => {
    const answer = status([{ stream: 'web', stuck: true }]);
    answer.totals.stuck = 3;
    expect(renderStatus(answer, { width: 120, color: false })).toContain(
      '! 3 stream(s) stuck: data older than twice FLUSH_INTERVAL (2.0 min): web and 2 more',
    );
  });

  it('tells nearly full streams by their words too, and names them in an alert of their own', () => {
    const lines = renderStatus(
      status([
        { stream: 'web', stuck: true, nearlyFull: true, maxShare: 0.97 },
        { stream: 'ios', nearlyFull: true, maxShare: 0.85 },
        { stream: 'android', maxShare: 0.5 },
      ]),
      { width: 120, color: false },
    );
    expect(lines).toContain(
      '! 2 stream(s) nearly full: over 80% of MAX_BUFFER_BYTES (4.0 KiB) in Redis; at 100% their writes are refused (503): web, ios',
    );
    expect(lines.filter((line) => /^(web|ios|android) /.test(line))).toEqual([
      expect.stringMatching(/^web +STUCK, NEARLY FULL +512 B +1\.5s +97% /),
      expect.stringMatching(/^ios +NEARLY FULL +512 B +1\.5s +85% /),
      expect.stringMatching(/^android +ok +512 B +1\.5s +50% /),
    ]);
    const painted = renderStatus(status([{ stream: 'ios', nearlyFull: true }]), { width: 120, color: true });
    expect(painted.find((line) => line.includes('ios '))).toContain('\x1b[31m');
  });

  it('shows every column on a wide terminal', () => {
    const lines = renderStatus(status([{ stream: 'web' }]), { width: 200, color: false });
    expect(lines.find((line) => line.startsWith('stream'))).toMatch(/last landed$/);
    expect(lines.find((line) => line.startsWith('web'))).toContain('1,234,567');
  });

  it('paints stuck streams and alerts red on a terminal, and never into a pipe', () => {
    const stuck = status([{ stream: 'web', stuck: true }]);
    const painted = renderStatus(stuck, { width: 120, color: true });
    expect(painted.find((line) => line.includes('stream(s) stuck'))).toContain('\x1b[31m');
    expect(painted.find((line) => line.includes('web '))).toContain('\x1b[31m');
    expect(renderStatus(stuck, { width: 120, color: false }).join('\n')).not.toContain('\x1b[');
  });

  it('paints the last flush error red while its stream has not landed since, and says so once it has', () => {
    const answer = status([{ stream: 'web' }]);
    const error = { type: 'Error', message: 'S3 was away', stream: 'web', at: '2026-12-02T07:00:00.000Z' };
    answer.lastFlushError = { ...error, landedSince: false };
    const failing = renderStatus(answer, { width: 120, color: true }).find((line) =>
      line.includes('S3 was away'),
    );
    expect(failing).toContain('\x1b[31m');
    answer.lastFlushError = { ...error, landedSince: true };
    const past = renderStatus(answer, { width: 120, color: true }).find((line) =>
      line.includes('S3 was away'),
    );
    expect(past).not.toContain('\x1b[');
    expect(past).toMatch(/\(its stream has landed since\)$/);
  });

  it("writes the controls of outside text (S3's error, a stream name, a warning, any field) as escapes, even in colour", () => {
    // Terminal controls, and a right-to-left override (what follows it shows reversed).
    const hostile = '\x1b]0;PWNED\x07\x1b[2J\x1b[32mall flushes OK\x1b[0m\u009b31m \u202eKO\u202c';
    const answer = status([{ stream: `web${hostile}` }]);
    answer.lastFlushError = {
      type: 'AccessDenied',
      message: hostile,
      stream: 'web',
      at: '2026-12-02T07:00:00.000Z',
      landedSince: false,
    };
    answer.redis.warnings = [hostile];
    // Fields the page sends as a time or a count are text like any other from a hostile flusher.
    answer.generatedAt = hostile;
    (answer.queue as unknown as Record<string, string>).waiting = hostile;
    for (const color of [false, true]) {
      const text = renderStatus(answer, { width: 300, color }).join('\n');
      // Colour is Spool's own red, bold and reset only; no other control of any kind gets out.
      const rest = ['\x1b[31m', '\x1b[1m', '\x1b[0m'].reduce((left, sgr) => left.replaceAll(sgr, ''), text);
      expect(
        [...rest].filter(
          (c) =>
            c !== '\n' && (c < ' ' || (c >= '\u007f' && c <= '\u009f') || (c >= '\u202a' && c <= '\u202e')),
        ),
      ).toEqual([]);
      expect(text).toContain('\\u001b]0;PWNED\\u0007');
      expect(text).toContain('\\u009b31m');
      expect(text).toContain('\\u202eKO\\u202c');
    }
  });

  it('says when a stream landed more than it accepted (its counters were lost), and only then', () => {
    const lost = renderStatus(status([{ stream: 'web', accepted: 10, landed: 25, countersLost: true }]), {
      width: 120,
      color: false,
    });
    expect(lost).toContain(
      '! 1 stream(s) landed more events than they accepted: their counters in Redis were lost (a failover, a deleted key); check their objects with spool verify',
    );
    expect(renderStatus(status([{ stream: 'web' }]), { width: 120, color: false }).join('\n')).not.toContain(
      'counters',
    );
  });

  it("says Redis's standing settings plainly, after the alerts and not in red: a managed Redis may never have AOF", () => {
    const answer = status([{ stream: 'web', stuck: true }]);
    answer.redis.warnings = ['maxmemory-policy is allkeys-lru: Redis may evict buffers'];
    answer.redis.notes = ['AOF is off: a Redis restart loses every event not yet in S3'];
    const lines = renderStatus(answer, { width: 200, color: true });
    const said = lines.filter((line) => /^[!-] Redis: /.test(line.replace('\x1b[31m', '')));
    expect(said).toEqual([
      '\x1b[31m! Redis: maxmemory-policy is allkeys-lru: Redis may evict buffers\x1b[0m',
      '- Redis: AOF is off: a Redis restart loses every event not yet in S3',
    ]);
    // After every alert.
    expect(lines.indexOf(said[1] as string)).toBeGreaterThan(
      lines.findIndex((line) => line.includes('stream(s) stuck')),
    );
  });

  it("shows the alerts and states the flusher sends as they are, and makes them for an older flusher's answer", () => {
    const older = status([{ stream: 'web', stuck: true }]);
    const fromOlder = renderStatus(older, { width: 200, color: false });
    expect(fromOlder).toContain('! 1 stream(s) stuck: data older than twice FLUSH_INTERVAL (2.0 min): web');
    expect(fromOlder.find((line) => line.startsWith('web'))).toMatch(/^web +STUCK /);
    // A current flusher's: its words, not the CLI's own making.
    const current = {
      ...older,
      streams: older.streams.map((row) => ({ ...row, state: 'AS THE FLUSHER SAYS' })),
      alerts: [{ kind: 'stuck', text: 'as the flusher says it', attention: true }],
    } as Status;
    const lines = renderStatus(current, { width: 200, color: false });
    expect(lines).toContain('! as the flusher says it');
    expect(lines.join('\n')).not.toContain('FLUSH_INTERVAL');
    expect(lines.find((line) => line.startsWith('web'))).toMatch(/^web +AS THE FLUSHER SAYS /);
  });
});
