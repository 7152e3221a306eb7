import { escapeActing, forStream, keyPrefixProblem, OUTPUT_FORMATS, type OutputFormat } from '@spool/shared';
import { pino } from 'pino';
import { fail, type OptionValues } from './command-line.js';
import { dayOption, streamOption } from './option-values.js';
import { replay, targetInsideSource } from './replay.js';
import { s3FromEnvironment } from './s3-from-environment.js';
import { stopSignal } from './stop-signal.js';

/** `spool replay`: a stream's objects of some days rewritten under another prefix; exit 1 if any is left out. */
export async function replayCommand(values: OptionValues): Promise<void> {
  const { format } = values;
  const toPrefix = values['to-prefix'];
  const stream = streamOption(values);
  const from = dayOption('--from', values.from);
  const to = dayOption('--to', values.to);
  if (from > to) fail('--from: after --to');
  if (!toPrefix) fail('--to-prefix: where the copies go (S3_PREFIX is where the objects are)');
  // A folder, as S3_PREFIX is.
  const prefixProblem = keyPrefixProblem(toPrefix);
  if (prefixProblem) fail(`--to-prefix: ${prefixProblem}`);
  if (format !== undefined && !OUTPUT_FORMATS.includes(format as OutputFormat)) {
    fail(`--format: expected ${OUTPUT_FORMATS.join(' or ')}`);
  }
  const { config, s3 } = s3FromEnvironment();
  const inside = targetInsideSource(config.s3.prefix, toPrefix);
  if (inside) fail(`--to-prefix: ${inside}`);
  const signal = stopSignal(
    'spool replay: stopping: finishing the copy in hand, then writing the day manifest of the copies made (Ctrl-C again stops at once)',
  );
  const tty = process.stderr.isTTY;
  try {
    const done = await replay({
      s3,
      bucket: config.s3.bucket as string,
      fromPrefix: config.s3.prefix,
      toPrefix,
      stream,
      fromDay: from,
      toDay: to,
      format: (format as OutputFormat | undefined) ?? forStream(config.outputFormat, stream),
      partBytes: config.s3.partBytes,
      logger: pino({ level: 'warn' }, pino.destination(2)),
      signal,
      progress: (p) =>
        process.stderr.write(
          `${tty ? '\r\x1b[K' : ''}${p.objects}/${p.of} objects (${p.written} written, ${p.skipped} already there) ${tty ? '' : `${escapeActing(p.key)}\n`}`,
        ),
    });
    process.stderr.write(tty ? '\n' : '');
    process.stdout.write(
      `${signal.aborted ? 'stopped' : 'replayed'}: ${done.objects} of ${done.of} objects, ${done.written} written, ${done.skipped} already there\n`,
    );
    // Not copied, so not whole either: said, each, and the exit says so (a second run says the same).
    for (const { key, why } of done.leftOut) {
      process.stderr.write(`spool replay: left out ${escapeActing(key)}: ${why}\n`);
    }
    if (done.leftOut.length > 0) {
      process.stderr.write(`spool replay: ${done.leftOut.length} object(s) in range left out, not copied\n`);
      process.exitCode = 1;
    }
    // Stopped, the copy is not whole: `make replay && <delete the source>` must not go on.
    if (signal.aborted) process.exitCode = 130;
    // Nothing to replay is almost always a wrong S3_PREFIX, stream or range: said, not passed over.
    // (Unless stopped while listing: then nothing was looked at, and the exit is 130.)
    if (done.of === 0 && done.leftOut.length === 0 && !signal.aborted) {
      process.stderr.write(
        `spool: no objects of stream ${stream} from ${from} to ${to} under S3_PREFIX "${config.s3.prefix}"\n`,
      );
      process.exitCode = 1;
    }
  } finally {
    s3.destroy();
  }
}
