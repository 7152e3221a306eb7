import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { lazyChildLogger, loggableUrl, loggerOptions, serializeError } from './logger.js';

/** A pino logger at `level` whose lines are collected. */
function capturing(level: string, options: pino.LoggerOptions = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ ...options, level }, stream), lines };
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

describe('loggableUrl', () => {
  it('hides a write key in the settings path or a credential parameter, however the URL spells them', () => {
    const key = 'k-secret-1';
    for (const url of [
      `/v1/projects/${key}/settings`,
      `//v1/projects/${key}/settings`,
      `/v1/%70rojects/${key}/settings`,
      `/V1/PROJECTS/${key}/settings`,
      `/v1/projects/${encodeURIComponent(key).replace('k', '%6B')}/settings`,
      `/sourceConfig/?writeKey=${key}`,
      `/sourceConfig/?write%4Bey=${key}`,
      `/beacon/v1/batch?a=1&WRITEKEY=${key}&b=2`,
      `/v1/track?write_key=${key}&writeKey=${key}`,
      `/x?apiKey=${key}`,
      `/x?token=${key}`,
      // Mistyped, the key is sent all the same.
      `/beacon/v1/batch?writeKey[]=${key}`,
      `/beacon/v1/batch?writeKey+=${key}`,
      `/beacon/v1/batch?%20writeKey=${key}`,
      `/beacon/v1/batch?writeKey.x=${key}`,
      `/beacon/v1/batch?api_key=${key}`,
      `/beacon/v1/batch?key=${key}`,
      `/beacon/v1/batch?access-token=${key}`,
      `/x?client_secret=${key}`,
      `/x?password=${key}`,
      `/x?pwd=${key}`,
      `/x?pass=${key}`,
      `/x?sig=${key}`,
      `/x?X-Amz-Signature=${key}`,
      `/x?jwt=${key}`,
      `/x?credentials=${key}`,
      `/x?session_id=${key}`,
      `/x?bearer=${key}`,
      // The router ends the path at a '#' too, and takes what follows as the query.
      `/sourceConfig#writeKey=${key}`,
      `/sourceConfig/?a=1#writeKey=${key}`,
      // A separator the ingest does not read, other software does: a key after it is hidden too.
      `/v1/track?a=1;writeKey=${key}`,
      `/v1/track?a=1;b=2&writeKey=${key}`,
      // A value holding a `;` is hidden whole, to the next `&`.
      `/v1/track?writeKey;=${key}`,
      `/v1/track?writeKey=x;${key}&a=1`,
      // A '#' before the '?', and a '#' in the key's value (reviews' runs).
      `/v1/batch#x=1?writeKey=${key}`,
      `/v1/batch?writeKey=x#${key}`,
      `/v1/batch?writeKey=x#tail&a=1#b?c;${key}`.replace(`;${key}`, `;writeKey=${key}`),
      // An absolute-form target, routed by its path.
      `http://x/v1/projects/${key}/settings`,
      // The settings path mistyped: a 404, logged, and the key is in it all the same.
      `/v1/project/${key}/settings`,
      `/v2/projects/${key}/settings`,
      `/projects/${key}/settings`,
      // The query put in the path, without its `?` (a 404, logged), or a pair encoded whole.
      `/beacon/v1/batch&writeKey=${key}`,
      `/beacon/v1/batch;writeKey=${key}`,
      `/beacon/v1/batch%26writeKey%3D${key}`,
      `/beacon/v1/batch/writeKey=${key}/x`,
      `/beacon/v1/batch?writeKey%3D${key}=1`,
      `/beacon/v1/batch?a=1&write%4Bey%3d${key}`,
      `/beacon/v1/batch?writeKey%253D${key}`,
      `/beacon/v1/batch?writeKey:${key}`,
      // User information in an absolute-form target.
      `http://u:${key}@127.0.0.1:8080/v1/streams/web/events`,
    ]) {
      const logged = loggableUrl(url);
      expect({ url, logged: logged.includes(key) || logged.includes('%6B-secret') }).toEqual({
        url,
        logged: false,
      });
      expect(logged).toContain('[redacted]');
    }
  });

  it("hides the whole of a key that holds a slash, encoded, keeping only the route's last segment", () => {
    expect(loggableUrl('/v1/projects/abcd%2Fefgh-secret1/settings')).toBe('/v1/projects/[redacted]/settings');
    expect(loggableUrl('/v1/projects/abcd%2Fefgh-secret1')).toBe('/v1/projects/[redacted]');
    expect(loggableUrl('/v1/projects/abcd/efgh-secret1/setings')).toBe('/v1/projects/[redacted]');
  });

  it("hides a secret's value to the next &, and keeps what follows", () => {
    expect(loggableUrl('/x?password=abc;def&a=1;b=2#c')).toBe('/x?password=[redacted]&a=1;b=2#c');
    expect(loggableUrl('/x?a=1;writeKey=k;k2;k3#b=2&c=3')).toBe('/x?a=1;writeKey=[redacted]&c=3');
  });

  it('leaves every other URL as it came', () => {
    for (const url of [
      '/v1/streams/web/events',
      // A stream named `projects` holds no key.
      '/v1/streams/projects/events',
      '/status.json?limit=10',
      '/v1/batch',
      '/queues/api/queues?page=2',
      '/x?a=1;b=2&c=3#d',
      '/%zz',
      // A `name=value` in a path whose name reads as no credential's.
      '/v1/streams/web/events;v=2',
    ]) {
      expect(loggableUrl(url)).toBe(url);
    }
  });
});

describe('serializeError', () => {
  it("leaves out S3's echo of a wrongly signed request and a failed command's arguments, keeping what names the error", () => {
    // As the AWS SDK makes an S3 error: the fields of S3's answer copied onto the exception.
    const error = Object.assign(new Error('The request signature we calculated does not match'), {
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403, requestId: 'req-42' },
      AWSAccessKeyId: 'AKIA-EXAMPLE-ID',
      StringToSign: 'AWS4-HMAC-SHA256 20261203T000000Z',
      CanonicalRequest: 'PUT /spool/events/stream=web/web-1.ndjson.gz\nx-amz-meta-spool-sha256:0f0f',
      SignatureProvided: 'signature-provided-123',
      cause: { command: { name: 'evalsha', args: ['{"email":"someone@example.com"}'] } },
    });
    const logged = JSON.stringify(serializeError(error));
    for (const hidden of [
      'AKIA-EXAMPLE-ID',
      'AWS4-HMAC',
      'stream=web',
      'signature-provided-123',
      'someone@example.com',
    ]) {
      expect({ hidden, logged: logged.includes(hidden) }).toEqual({ hidden, logged: false });
    }
    for (const kept of ['SignatureDoesNotMatch', '403', 'req-42', 'evalsha']) expect(logged).toContain(kept);
  });

  it("leaves out the bytes Node's HTTP parser refused (a request line's token), keeping the parser's code", async () => {
    const server = createServer();
    const refused = new Promise<Error>((resolve) =>
      server.on('clientError', (error: Error, socket: Socket) => {
        socket.destroy();
        resolve(error);
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = connect(port, '127.0.0.1', () =>
      client.write(
        'GET /status.json?token=SECRET123 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
      ),
    );
    client.on('error', () => {});
    try {
      const error = await refused;
      expect((error as Error & { rawPacket?: Buffer }).rawPacket?.toString()).toContain('SECRET123');
      const logged = serializeError(error) as Record<string, unknown>;
      // A Buffer is logged as its bytes' numbers by index: the text is read back from them.
      const bytes = Object.values(logged.rawPacket ?? {}).filter((byte) => typeof byte === 'number');
      expect(Buffer.from(bytes).toString()).not.toContain('SECRET');
      expect(JSON.stringify(logged)).not.toContain('SECRET123');
      expect(JSON.stringify(logged)).toContain('HPE_');
    } finally {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("the request log's serializer", () => {
  it('logs a request without its address when the address policy throws, instead of ending the process', () => {
    const throwing = () => {
      throw new Error('ipaddr: string is not formatted like an IPv6 Address');
    };
    const { logger, lines } = capturing('info', loggerOptions('ingest', 'info', throwing));
    logger.info({ req: { method: 'POST', url: '/v1/batch', ip: '::ffff:1.2.3.4%-' } }, 'incoming request');
    expect(lines).toEqual([
      expect.objectContaining({ req: { method: 'POST', url: '/v1/batch' }, msg: 'incoming request' }),
    ]);
  });
});

describe('serializeError, bounded', () => {
  it("keeps what names an error and bounds the rest: an S3 answer's fields copied onto the exception made a 7.8 MB line", () => {
    const error = Object.assign(new Error('We encountered an internal error.'), {
      name: 'InternalError',
      Code: 'InternalError',
      $metadata: { httpStatusCode: 500, requestId: 'r-1' },
      Nested: { deep: 'x'.repeat(204_800) },
      ...Object.fromEntries(Array.from({ length: 683 }, (_, i) => [`F${i}`, 'y'.repeat(250)])),
    });
    const serialized = serializeError(error) as Record<string, unknown>;
    expect(JSON.stringify(serialized).length).toBeLessThan(40_000);
    expect(serialized).toMatchObject({
      name: 'InternalError',
      message: 'We encountered an internal error.',
      Code: 'InternalError',
      $metadata: { httpStatusCode: 500, requestId: 'r-1' },
    });
    expect(String((serialized.Nested as { deep: string }).deep)).toHaveLength(4_097);
    expect(serialized['…']).toMatch(/^\d+ more not logged$/);
  });
});
