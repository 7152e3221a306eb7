/**
 * main.ts's first import, so evaluated before any other module (but after they are all loaded,
 * some 0.2 s: a SIGHUP before then still ends the process): with ADMIN_KEYS_FILE set, SIGHUP
 * means "read the key file now" (key-file-watch.ts), and must not end the flusher at any time,
 * from its start (a second or more of modules and connections) to its shutdown (a SIGHUP while it
 * drained its jobs ended it, exit 129: a review's run). Without a key file, SIGHUP keeps its
 * default and ends it. Node gives the signal its default back as the process exits, so one sent
 * after `stopped` may still end it.
 */
if (process.env.ADMIN_KEYS_FILE) process.on('SIGHUP', () => {});
