import { daysInMonth } from './calendar.js';

/**
 * Milliseconds of an ISO 8601 time of the form `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH[[:]MM]]`
 * (a time without an offset is UTC), or NaN for anything else: a date or an offset that does not
 * exist, a bare date, a number, words. The times Spool believes from a client: V8's Date.parse
 * takes far more ("42" is 2042, "Dec 3" is 2001, a time without an offset is local), and each
 * would be stored as a real time. The flusher's Parquet typing takes the same form
 * (apps/flusher/src/iso-time.ts, which reads it in place from a line's bytes; a test holds the two
 * to one grammar).
 */
export function parseIsoTime(text: string): number {
  if (text.length < 19) return Number.NaN;
  const sep = text.charCodeAt(10);
  if (
    text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH ||
    (sep !== 0x54 && sep !== 0x20) || // T or space
    text.charCodeAt(13) !== COLON ||
    text.charCodeAt(16) !== COLON
  ) {
    return Number.NaN;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hours = digitsAt(text, 11, 2);
  const minutes = digitsAt(text, 14, 2);
  const seconds = digitsAt(text, 17, 2);
  if (year < 1 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if (!within(hours, 23) || !within(minutes, 59) || !within(seconds, 59)) return Number.NaN;
  let at = 19;
  let millis = 0;
  if (text.charCodeAt(at) === 0x2e) {
    // A fraction: 1 to 9 digits, kept to the millisecond.
    let count = 0;
    while (at + 1 + count < text.length && digitsAt(text, at + 1 + count, 1) !== -1) count += 1;
    if (count < 1 || count > 9) return Number.NaN;
    millis = Math.floor(digitsAt(text, at + 1, Math.min(count, 3)) * 10 ** (3 - Math.min(count, 3)));
    at += 1 + count;
  }
  let offsetMinutes = 0;
  if (at === text.length) {
    // No offset: UTC.
  } else if (text.charCodeAt(at) === 0x5a) {
    if (at + 1 !== text.length) return Number.NaN; // Z
  } else {
    const sign = text.charCodeAt(at);
    const offsetHours = digitsAt(text, at + 1, 2);
    if ((sign !== 0x2b && sign !== DASH) || !within(offsetHours, 23)) return Number.NaN;
    const rest = text.length - (at + 3);
    let offsetMins = 0;
    if (rest === 2) offsetMins = digitsAt(text, at + 3, 2);
    else if (rest === 3 && text.charCodeAt(at + 3) === COLON) offsetMins = digitsAt(text, at + 4, 2);
    else if (rest !== 0) return Number.NaN;
    if (!within(offsetMins, 59)) return Number.NaN;
    offsetMinutes = (sign === DASH ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0 to 99 as 1900 to 1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime() + ((hours * 60 + minutes - offsetMinutes) * 60 + seconds) * 1000 + millis;
}

const DASH = 0x2d;
const COLON = 0x3a;

/** The digits `text[at, at + count)` as a number, or -1 when one is not a digit. */
function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i += 1) {
    const digit = text.charCodeAt(i) - 0x30;
    if (!(digit >= 0 && digit <= 9)) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function within(value: number, max: number): boolean {
  return value >= 0 && value <= max;
}
