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

  it('takes a body that inflates to exactly its limit, and refuses one a byte past it (413)', async () => {
    // Compressible, so that only the inflated size meets the limit (the sent one is held to it too).
    const body = JSON.stringify({ pad: 'x'.repeat(1_000) });
    const exactly = decodeBody(Readable.from([gzipSync(body)]), 'gzip', body.length);
    expect(await text(exactly as Readable)).toBe(body);
    const past = decodeBody(Readable.from([gzipSync(`${body} `)]), 'gzip', body.length);
    await expect(text(past as Readable)).rejects.toMatchObject({ code: 'SPOOL_BODY_TOO_LARGE' });
  });

  it.each(['br', 'deflate', 'gzip, gzip'])('refuses Content-Encoding "%s"', (encoding) => {
    expect(() => decodeBody(Readable.from([Buffer.from(BODY)]), encoding, 1024)).toThrow(
      expect.objectContaining({ code: 'SPOOL_UNSUPPORTED_ENCODING' }),
    );
  });
});
