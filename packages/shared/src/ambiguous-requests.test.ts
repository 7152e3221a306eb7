import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sendRawHttp } from '@spool/testkit';
import Fastify from 'fastify';
import { refuseAmbiguousRequests } from './ambiguous-requests.js';

// The flusher's port and the ingest's METRICS_PORT, as the ingest's own (http-layer.int.test.ts).
const app = Fastify();
app.addHook('onRequest', refuseAmbiguousRequests);
app.get('/', async () => 'ok');
app.post('/', async () => 'stored');
let url = '';
beforeAll(async () => {
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app.close());

const statusesOf = (answer: string) =>
  [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));

describe('refuseAmbiguousRequests', () => {
  it.each([
    [
      'a chunked body sent as HTTP/1.0',
      'POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n',
    ],
    ['two Host headers', 'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n'],
    ['two Host headers in other cases', 'GET / HTTP/1.1\r\nhost: a.example\r\nHOST: b.example\r\n'],
  ])('refuses %s with 400 and closes the connection', async (_case, head) => {
    const body = head.startsWith('POST') ? '2\r\n{}\r\n0\r\n\r\n' : '';
    const sent = await sendRawHttp(url, `${head}\r\n${body}GET / HTTP/1.1\r\nHost: x\r\n\r\n`);
    await sent.closed;
    expect(statusesOf(sent.answer())).toEqual([400]);
    expect(sent.answer()).toMatch(/\r\nconnection: close\r\n/i);
    expect(sent.answer()).toContain('"code":"SPOOL_BAD_REQUEST"');
  });

  it('lets HTTP/1.1 chunked bodies, HTTP/1.0 bodies with a length, and one Host through', async () => {
    const sent = await sendRawHttp(
      url,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n' +
        'POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}' +
        'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    await sent.closed;
    expect(statusesOf(sent.answer())).toEqual([200, 200, 200]);
  });
});
