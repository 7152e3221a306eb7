/**
 * Ctrl-C or SIGTERM stops `stop`'s stack (its redis-server, S3 stand-in, ingests and flushers)
 * before this process exits. A terminal's Ctrl-C reaches them too, but a SIGTERM sent to this
 * process alone (a CI job's timeout, `kill`) left them running, holding their ports.
 */
export function stopOnSignal(stop: () => Promise<void>): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      void stop().finally(() => process.exit(code));
    });
  }
}
