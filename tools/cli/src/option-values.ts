import { DEFAULT_NAMESPACE, escapeActing, isValidStreamName, redisNamespace } from '@spool/shared';
import { fail, type OptionValues } from './command-line.js';

/**
 * --namespace, else REDIS_NAMESPACE (empty is unset, as for the services), else `spool`; refused
 * (exit 64) unless the services would take it: an empty one followed `:{web}:buf` in silence, and
 * status wrote the queue's meta key under `{}`.
 */
export function namespaceOption(values: OptionValues): string {
  const namespace = values.namespace ?? (process.env.REDIS_NAMESPACE || DEFAULT_NAMESPACE);
  const parsed = redisNamespace.safeParse(namespace);
  if (!parsed.success) {
    fail(
      `${values.namespace === undefined ? 'REDIS_NAMESPACE' : '--namespace'}: ${parsed.error.issues[0]?.message}; got "${escapeActing(namespace)}"`,
    );
  }
  return parsed.data;
}

/** --stream, refused (exit 64) unless a stream name. */
export function streamOption(values: OptionValues): string {
  const { stream } = values;
  if (!stream || !isValidStreamName(stream)) fail('--stream: expected a stream name');
  return stream;
}

/** A day option (`--day`, `--from`, `--to`), refused (exit 64) unless a day of the calendar, YYYY-MM-DD. */
export function dayOption(name: string, day: string | undefined): string {
  // 2026-02-30 would be read as 2026-03-02, and 2026-12-99 as no day at all.
  const at = day && /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  if (!day || !Number.isFinite(at) || !new Date(at).toISOString().startsWith(day)) {
    fail(`${name}: expected a day as YYYY-MM-DD`);
  }
  return day;
}
