/**
 * Days in `month` (1 to 12) of `year` in the proleptic Gregorian calendar, or 0 when the month
 * does not exist. V8's Date.parse takes any day up to 31 and rolls it over (2026-02-30 is March 2),
 * so a date read from a client is checked here before it is believed.
 */
export function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}
