/**
 * main.ts's first import, so evaluated before any other module (but after they are all loaded,
 * some 0.2 s: a SIGHUP before then still ends the process): with WRITE_KEYS_FILE set, SIGHUP
 * means "read the key file now" (key-file-watch.ts), and must not end the ingest at any time, from
 * its start (a second or more of modules and connections) to its shutdown (a review's runs:
 * exit 129 in both). Without a key file, SIGHUP keeps its default and ends it. Node gives the
 * signal its default back as the process exits, so one sent after `stopped` may still end it.
 */
if (process.env.WRITE_KEYS_FILE) process.on('SIGHUP', () => {});
