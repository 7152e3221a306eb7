/**
 * Parsers for the human units configuration accepts: sizes (`512KiB`, `32MiB`, `1GB`, plain
 * bytes) and durations (`250ms`, `30s`, `5m`, `1h`, plain milliseconds). Decimal units (kB, MB,
 * GB) are powers of 1000 and binary ones (KiB, MiB, GiB) powers of 1024, as everywhere else.
 */

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i;

function parseWithUnits(text: string, units: Record<string, number>, plainUnit: string): number | undefined {
  const match = PATTERN.exec(text);
  if (!match) return undefined;
  const [, amount = '', unit = ''] = match;
  const factor = units[(unit || plainUnit).toLowerCase()];
  if (factor === undefined) return undefined;
  const exact = Number(amount) * factor;
  const value = Math.round(exact);
  // A non-zero amount is never 0: `DEDUPE_WINDOW=0.4ms` turned dedupe off, as only `0` may.
  if (value === 0 && exact !== 0) return undefined;
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Bytes in `text`, or undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  return parseWithUnits(text, SIZE_UNITS, 'b');
}

/** Milliseconds in `text`, or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  return parseWithUnits(text, DURATION_UNITS, 'ms');
}
