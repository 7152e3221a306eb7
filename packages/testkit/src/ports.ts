import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port handed out: below are the well-known and commonly configured ones. */
const LOWEST_PORT = 10_000;

/**
 * The first port of the kernel's ephemeral range, where `connect()` picks the local ports of
 * outgoing connections (32768 by default on Linux), or undefined when it cannot be read.
 */
function ephemeralRangeStart(): number | undefined {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const port = Number(start);
    return Number.isInteger(port) ? port : undefined;
  } catch {
    return undefined;
  }
}

/** Listens on `port` (0: the kernel's choice) on 127.0.0.1 and closes; the port, or undefined if taken. */
async function tryPort(port: number): Promise<number | undefined> {
  const server = createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!listening) return undefined;
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return address !== null && typeof address !== 'string' ? address.port : undefined;
}

/** Whether a server could listen on `port` on 127.0.0.1 right now. */
export async function isPortFree(port: number): Promise<boolean> {
  return (await tryPort(port)) !== undefined;
}

/**
 * A TCP port free on 127.0.0.1 right now, for a process about to bind it. Chosen at random below
 * the ephemeral range when there is room: a port the kernel picked (`listen(0)`) is one it may
 * give next to an outgoing connection, and a test that opens thousands of them could take it
 * before the process binds. On its own entry point (`@spool/testkit/ports`) so tools can use it
 * without loading the container harness.
 */
export async function freePort(): Promise<number> {
  const ephemeral = ephemeralRangeStart() ?? 0;
  if (ephemeral > LOWEST_PORT + 1_000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = await tryPort(LOWEST_PORT + Math.floor(Math.random() * (ephemeral - LOWEST_PORT)));
      if (port !== undefined) return port;
    }
  }
  const port = await tryPort(0);
  if (port === undefined) throw new Error('no free port');
  return port;
}
