/**
 * Loaded (`--import`) into each Node process a `nohup make dev` starts: nohup's ignored SIGHUP
 * reaches them, but Node sets an inherited SIG_IGN back to the default, which stops the process.
 * A listener keeps them running, and keeps no process alive by itself.
 */
process.on('SIGHUP', () => {});

export {};
