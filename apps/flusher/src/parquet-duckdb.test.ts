import { describe, expect, it } from '@jest/globals';
import {
  duckdbErrorKind,
  isDataError,
  isOutOfMemory,
  memoryLimitFor,
  readStatement,
  selectStatement,
  withoutData,
} from './parquet-duckdb.js';

describe('DuckDB errors', () => {
  it.each([
    ['Invalid Input Error: Malformed JSON in file "x", at byte 36: "secret"', 'Invalid Input Error', true],
    ['Conversion Error: Could not convert string "secret" to INT64', 'Conversion Error', true],
    ['Parser Error: unterminated quoted string', 'Parser Error', true],
    ['Binder Error: Duplicate struct entry name "A"', 'Binder Error', true],
    ['Out of Memory Error: failed to allocate data of size 32.0 MiB', 'Out of Memory Error', false],
    ['IO Error: No space left on device', 'IO Error', false],
    ['Error: Invalid Input Error: as another realm prints it', 'Invalid Input Error', true],
    ['something else entirely', 'Error', false],
  ])('%s is a %s (data error: %s)', (message, kind, data) => {
    expect(duckdbErrorKind(new Error(message))).toBe(kind);
    expect(isDataError({ message })).toBe(data);
    expect(isOutOfMemory({ message })).toBe(kind === 'Out of Memory Error');
  });

  it("keep an IO Error's operating system reason, and nothing else of it", () => {
    const full = withoutData(
      new Error('IO Error: Could not write file "/tmp/spool-flush-1/x.parquet": No space left on device'),
    );
    expect(full.message).toBe(
      'DuckDB IO Error while writing Parquet: No space left on device (the rest of its message is not kept: it may quote an event)',
    );
    const other = withoutData(new Error('IO Error: Could not read "ssn 123-45-6789": Something else'));
    expect(other.message).toBe(
      'DuckDB IO Error while writing Parquet (its message is not kept: it may quote an event)',
    );
  });

  it('keep none of their message when thrown on', () => {
    const error = withoutData(new Error('Conversion Error: Could not convert string "ssn 123-45-6789"'));
    expect(error.message).toBe(
      'DuckDB Conversion Error while writing Parquet (its message is not kept: it may quote an event)',
    );
  });
});

describe('memoryLimitFor', () => {
  it('gives DuckDB 96 MB for small row groups, and 64 MiB and three times a large one', () => {
    expect(memoryLimitFor(4 * 1024 * 1024)).toBe(96_000_000);
    expect(memoryLimitFor(32_000_000)).toBe(64 * 1024 * 1024 + 96_000_000);
  });
});

describe('readStatement', () => {
  const base = {
    inputs: ["/tmp/it's-00000.ndjson", '/tmp/b-00001.ndjson'],
    output: '/tmp/o',
    spill: '/tmp/s',
    rowGroupRows: 2048,
    rowGroupBytes: 4 * 1024 * 1024,
    maxLineBytes: 100,
  };

  it('reads the staged files as one list, in order, field names and paths quoted as SQL strings', () => {
    const sql = readStatement({
      ...base,
      schema: { kind: 'columns', columns: [{ name: 'it\'s "x"', type: 'VARCHAR' }] },
    });
    expect(sql).toBe(
      `read_ndjson(['/tmp/it''s-00000.ndjson', '/tmp/b-00001.ndjson'], columns = {'it''s "x"': 'VARCHAR'}, records = true, maximum_object_size = 1048576)`,
    );
  });

  it('writes JSON columns as VARCHAR, each name quoted as an identifier', () => {
    const sql = selectStatement({
      ...base,
      schema: {
        kind: 'columns',
        columns: [
          { name: 'n', type: 'BIGINT' },
          { name: 'say "hi"', type: 'JSON' },
        ],
      },
    });
    expect(sql).toBe(
      `SELECT * REPLACE (CAST("say ""hi""" AS VARCHAR) AS "say ""hi""") FROM read_ndjson(['/tmp/it''s-00000.ndjson', '/tmp/b-00001.ndjson'], columns = {'n': 'BIGINT', 'say "hi"': 'JSON'}, records = true, maximum_object_size = 1048576)`,
    );
    expect(selectStatement({ ...base, schema: { kind: 'lines' } })).toMatch(
      /^SELECT "_event", CASE WHEN json_valid\("_messageId"\) .* FROM read_csv\(/,
    );
  });

  it('reads lines as text with a delimiter and a quote JSON text never holds', () => {
    expect(readStatement({ ...base, schema: { kind: 'lines' } })).toContain(
      `columns = {'_messageId': 'VARCHAR', '_receivedAt': 'VARCHAR', '_event': 'VARCHAR'}, header = false, delim = E'\\x01', quote = E'\\x02', escape = E'\\x02'`,
    );
  });
});
