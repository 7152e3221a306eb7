import { connect, type Socket } from 'node:net';

/**
 * Clients that try to exhaust a server rather than use it: `idle` connections that never send a
 * byte, `slowloris` connections that send a request's headers one byte a second, and requests
 * whose headers are larger than any server should read. Returns a function that closes them all,
 * and the status lines the oversized requests got.
 */
export async function greedyClients(
  port: number,
  counts: { idle: number; slowloris: number; hugeHeaders: number },
): Promise<{ release(): void; hugeHeaderAnswers: Promise<string[]> }> {
  const sockets: Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  const open = () =>
    new Promise<Socket>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.on('error', () => {});
      sockets.push(socket);
    });
  for (let i = 0; i < counts.idle; i += 1) await open();
  for (let i = 0; i < counts.slowloris; i += 1) {
    const socket = await open();
    const request = `POST /v1/streams/slow/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: ${'y'.repeat(200)}\r\n`;
    let sent = 0;
    timers.push(
      setInterval(() => {
        if (sent < request.length && !socket.destroyed) socket.write(request[sent++] as string);
      }, 1_000),
    );
  }
  const hugeHeaderAnswers = Promise.all(
    Array.from(
      { length: counts.hugeHeaders },
      () =>
        new Promise<string>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(
              `POST /v1/streams/huge/events HTTP/1.1\r\nHost: x\r\nX-Huge: ${'z'.repeat(64 * 1024)}\r\nContent-Length: 2\r\n\r\n{}`,
            );
          });
          let answer = '';
          socket.on('data', (data) => {
            answer += data.toString('latin1');
          });
          socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
          socket.on('error', () => resolve(answer.split('\r\n')[0] || 'connection reset'));
        }),
    ),
  );
  return {
    hugeHeaderAnswers,
    release() {
      for (const timer of timers) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  };
}
