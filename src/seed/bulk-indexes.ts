import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';

/**
 * Runs a bulk load with the tables' secondary indexes dropped and rebuilt
 * afterwards: building an index over a million sorted rows is several times
 * faster than maintaining it row by row. The definitions are read back from
 * the catalog (pg_get_indexdef), so they are exactly what the migrations made;
 * unique indexes are re-checked when rebuilt. Indexes that back a constraint
 * (primary keys, UNIQUE constraints) stay. Must run inside the caller's
 * transaction, which holds the table locks.
 */
export async function withSecondaryIndexesRebuilt<T>(
  trx: Transaction<Database>,
  tables: readonly string[],
  load: () => Promise<T>,
): Promise<T> {
  const { rows } = await sql<{ name: string; definition: string }>`
    SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = current_schema() AND t.relname = ANY(${tables as string[]})
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
    ORDER BY i.relname`.execute(trx);
  for (const { name } of rows) await sql`DROP INDEX ${sql.id(name)}`.execute(trx);
  const result = await load();
  for (const { definition } of rows) await sql.raw(definition).execute(trx);
  return result;
}
