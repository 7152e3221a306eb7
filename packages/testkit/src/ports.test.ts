import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { freePort } from './ports.js';

const ephemeralStart = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
);

describe('freePort', () => {
  it('gives ports below the ephemeral range, where outgoing connections never take them', async () => {
    // A kernel whose range starts that low leaves no room: then any free port will do.
    const below = ephemeralStart > 11_000 ? ephemeralStart : 65_536;
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(below === 65_536 ? 1 : 10_000);
      expect(port).toBeLessThan(below);
    }
  });

  it('gives a port a server can then listen on', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
