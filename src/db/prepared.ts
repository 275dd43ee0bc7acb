import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * The client of the prepared-statement pool (see preparedDb in connect.ts).
 * Kysely always sends unnamed statements; this client gives each distinct SQL
 * text with parameters a name instead, so PostgreSQL parses and plans it once
 * per connection and then only executes it. Statements without parameters
 * (BEGIN, COMMIT) go as they are.
 */

/** SQL text → statement name. Bounded: the texts sent here come from a fixed set of query shapes. */
const names = new Map<string, string>();
const MAX_NAMES = 256;

function nameOf(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMES) {
    name = `reverify_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

export class PreparingClient extends pg.Client {
  // One signature stands for pg's many overloads and forwards them unchanged.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const [text, values, callback] = args as unknown[];
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && callback === undefined) {
      const name = nameOf(text);
      if (name !== undefined) return super.query({ name, text, values });
    }
    return (super.query as (...forwarded: unknown[]) => unknown)(...args);
  }
}
