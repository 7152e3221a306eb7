import { escapeActing } from '@spool/shared';
import type { OptionValues } from './command-line.js';
import { dayOption, streamOption } from './option-values.js';
import { s3FromEnvironment } from './s3-from-environment.js';
import { verifyDay } from './verify-day.js';

/** `spool verify`: a day of a stream in S3 against its manifest; exit 1 unless it is whole. */
export async function verify(values: OptionValues): Promise<void> {
  const stream = streamOption(values);
  const day = dayOption('--day', values.day);
  const { config, s3 } = s3FromEnvironment();
  try {
    const report = await verifyDay({
      s3,
      bucket: config.s3.bucket as string,
      prefix: config.s3.prefix,
      stream,
      day,
      deep: values.deep,
    });
    const problems = report.missing.length + report.changed.length + report.extra.length;
    const out = [
      report.checked === 0
        ? `${report.manifest}: no manifest, and objects in the day`
        : `${report.manifest}: ${report.checked} objects in the manifest${values.deep ? ', read whole' : ''}`,
      ...report.missing.map((key) => `missing  ${key}`),
      ...report.changed.map(({ key, why }) => `changed  ${key}: ${why}`),
      ...report.extra.map((key) => `extra    ${key} (not in the manifest; landed in the last moments?)`),
      problems === 0 ? 'ok: none missing, none changed, none extra' : `${problems} problem(s)`,
    ];
    // Keys, metadata and manifest lines come from S3, where any character may be in them (U+009B
    // is a terminal's CSI): a terminal must not act on them.
    process.stdout.write(`${out.map(escapeActing).join('\n')}\n`);
    process.exitCode = problems === 0 ? 0 : 1;
  } finally {
    s3.destroy();
  }
}
