import { describe, expect, it } from '@jest/globals';
import { sendRawHttp } from '@spool/testkit';
import Fastify from 'fastify';
import { closeConnectionsOnClose } from './close-connections.js';

/**
 * An app whose POST /slow is answered once `release()` is called; `handling` resolves once it is
 * called, `closeBegan` once the close hooks have run.
 */
async function appWithSlowRoute(cutAfterMs: number) {
  const app = Fastify();
  closeConnectionsOnClose(app, cutAfterMs);
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started = () => {};
  const handling = new Promise<void>((resolve) => {
    started = resolve;
  });
  app.post('/slow', async () => {
    started();
    await released;
    return { ok: true };
  });
  app.get('/quick', async () => ({ ok: true }));
  let closeBegun = () => {};
  const closeBegan = new Promise<void>((resolve) => {
    closeBegun = resolve;
  });
  // Added after the helper's, so it runs after it.
  app.addHook('preClose', async () => closeBegun());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}`, release, handling, closeBegan };
}

const WHOLE_REQUEST =
  'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';

describe('closeConnectionsOnClose', () => {
  it('cuts on close the connections still sending a request, and lets a request received whole be answered', async () => {
    const { app, url, release, handling } = await appWithSlowRoute(50);

    const halfHeaders = await sendRawHttp(url, 'POST /slow HTTP/1.1\r\nHost: x\r\n');
    const halfBody = await sendRawHttp(
      url,
      'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    const idle = await sendRawHttp(url, 'GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    const whole = await sendRawHttp(url, WHOLE_REQUEST);
    await handling;
    while (!idle.answer().includes('{"ok":true}')) await new Promise((resolve) => setTimeout(resolve, 5));
    // Else the close may find them idle, not half sent, and cut them for that.
    await Promise.all([halfHeaders.readByServer(), halfBody.readByServer()]);

    const closing = app.close();
    // Cut without an answer: nothing of theirs was taken.
    await Promise.all([halfHeaders.closed, halfBody.closed, idle.closed]);
    expect(halfHeaders.answer()).toBe('');
    expect(halfBody.answer()).toBe('');
    // Received whole: answered once its handler is done, and the connection ends with it.
    release();
    await whole.closed;
    expect(whole.answer()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(whole.answer().toLowerCase()).toContain('connection: close');
    expect(whole.answer()).toContain('{"ok":true}');
    await closing;
  });

  it('ends a keep-alive connection with the answer it was busy with when close began', async () => {
    // No cut in this test's time: the answer itself ends the connection.
    const { app, url, release, handling, closeBegan } = await appWithSlowRoute(600_000);
    const whole = await sendRawHttp(url, WHOLE_REQUEST);
    await handling;
    const closing = app.close();
    await closeBegan;
    release();
    await whole.closed;
    // Its client is told not to send another request on it.
    expect(whole.answer().toLowerCase()).toContain('connection: close');
    await closing;
  });
});
