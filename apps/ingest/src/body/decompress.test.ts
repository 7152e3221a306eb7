import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { decodeBody } from './decompress.js';

const BODY = '{"event":"signup"}';

describe('decodeBody', () => {
  it.each(['', 'identity', ' Identity '])(
    'passes a body with Content-Encoding "%s" through as it is',
    async (encoding) => {
      const payload = Readable.from([Buffer.from(BODY)]);
      expect(decodeBody(payload, encoding, 1024)).toBe(payload);
    },
  );

  it.each(['gzip', 'x-gzip', 'GZIP'])('inflates a body with Content-Encoding "%s"', async (encoding) => {
    const decoded = decodeBody(Readable.from([gzipSync(BODY)]), encoding, 1024);
    expect(await text(decoded as Readable)).toBe(BODY);
  });

  it.each(['br', 'deflate', 'gzip, gzip'])('refuses Content-Encoding "%s"', (encoding) => {
    expect(() => decodeBody(Readable.from([Buffer.from(BODY)]), encoding, 1024)).toThrow(
      expect.objectContaining({ code: 'SPOOL_UNSUPPORTED_ENCODING' }),
    );
  });
});
