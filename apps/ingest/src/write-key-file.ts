import {
  entriesBasicCannotCarry,
  entriesUrlsCannotCarry,
  type SettingFile,
  type WriteKey,
  watchKeyFile,
  writeKeys,
} from '@spool/shared';
import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import type { WriteKeyVerifier } from './auth.js';

/**
 * WRITE_KEYS_FILE, watched (`watchKeyFile`: when it changes, and on SIGHUP): its keys replace
 * those in use on every route, with the start's warnings for keys some clients cannot send.
 * Returns what stops the watch.
 */
export function watchWriteKeyFile(options: {
  file: SettingFile;
  keys: WriteKeyVerifier;
  current: readonly WriteKey[];
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  readOk: Gauge<'setting'>;
}): () => void {
  const watch = watchKeyFile({
    name: 'WRITE_KEYS',
    file: options.file,
    field: writeKeys,
    current: options.current,
    keyTexts: (keys) => keys.map(({ key }) => key),
    apply: (keys) => {
      options.keys.replace(keys);
      warnOfUnsendableKeys(options.logger, keys);
    },
    logger: options.logger,
    readOk: options.readOk,
  });
  return () => watch.close();
}

/** Says which write keys some clients cannot send (by entry number, never the key). */
export function warnOfUnsendableKeys(logger: Pick<Logger, 'warn'>, keys: readonly WriteKey[]): void {
  const basicCannotCarry = entriesBasicCannotCarry(keys);
  if (basicCannotCarry.length > 0) {
    logger.warn(
      { entries: basicCannotCarry },
      'WRITE_KEYS: a key holding ":" can be sent only as Bearer or X-Write-Key (as Jitsu\'s SDK sends its id:secret keys); HTTP Basic (how Segment\'s and RudderStack\'s SDKs send a write key) ends the user name at the first ":"',
    );
  }
  const urlsCannotCarry = entriesUrlsCannotCarry(keys);
  if (urlsCannotCarry.length > 0) {
    logger.warn(
      { entries: urlsCannotCarry },
      'WRITE_KEYS: a key holding ? # % & or \\ cannot be sent by the browser SDKs, which put it in URLs as it is (analytics.js loads no settings, RudderStack beacons are refused); server SDKs are not affected',
    );
  }
}
