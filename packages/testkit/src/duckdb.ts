import { DuckDBInstance } from '@duckdb/node-api';

/**
 * Runs one query in a DuckDB instance of its own, as a data team reads Spool's objects, and
 * returns its rows (BIGINTs as bigint). A subpath of its own (`@spool/testkit/duckdb`), so that
 * tests that read no objects never load DuckDB.
 */
export async function duckdbQuery(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
