import { parseArgs } from 'node:util';
import { OUTPUT_FORMATS, type OutputFormat, parseDuration } from '@spool/shared';

export interface SoakOptions {
  durationMs: number;
  everyMs: number;
  concurrency: number;
  /** The flushers' OUTPUT_FORMAT: Parquet's DuckDB instances are what a long run may leak. */
  format: OutputFormat;
}

/** The soak's options from its command line, what is wrong with them (one problem), or a call for help. */
export function parseSoakOptions(args: string[]): SoakOptions | { problem: string } | { help: true } {
  let values: { duration: string; every: string; concurrency: string; format: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        duration: { type: 'string', default: '30m' },
        every: { type: 'string', default: '1m' },
        concurrency: { type: 'string', default: '10' },
        format: { type: 'string', default: 'ndjson.gz' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    // An unknown option or one without its value threw: a stack trace for an answer.
    return { problem: (error as Error).message.split('\n')[0] ?? String(error) };
  }
  if (values.help) return { help: true };
  const durationMs = parseDuration(values.duration);
  const everyMs = parseDuration(values.every);
  const concurrency = Number(values.concurrency);
  if (!durationMs) return { problem: '--duration: expected a duration such as 90s or 5m' };
  if (!everyMs) return { problem: '--every: expected a duration such as 90s or 5m' };
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
    return { problem: '--concurrency: expected a whole number of at least 1' };
  }
  const format = OUTPUT_FORMATS.find((name) => name === values.format);
  if (format === undefined) return { problem: `--format: expected ${OUTPUT_FORMATS.join(', ')}` };
  return { durationMs, everyMs, concurrency, format };
}
