import { ManagedProcess } from './managed-process.js';

/**
 * A redis-server of a test's own on 127.0.0.1, for settings the shared one must keep (a replica,
 * an eviction policy): no persistence unless `extra` asks (a later option wins), its files in
 * `dir` under `name`. Stop it with `stop()`.
 */
export function startRedisServer(
  name: string,
  port: number,
  dir: string,
  extra: string[] = [],
): ManagedProcess {
  const server = new ManagedProcess(name, 'redis-server', [
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    ...['--dir', dir, '--dbfilename', `${name}.rdb`, '--appendfilename', `${name}.aof`],
    ...extra,
  ]);
  server.start();
  return server;
}
