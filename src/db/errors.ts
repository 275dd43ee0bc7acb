import pg from 'pg';

/**
 * SQLSTATE classes that say the database could not be reached or was going
 * away, not that the statement was wrong: 08 connection exception, 53
 * insufficient resources (too many connections), 57 operator intervention
 * (shut down, terminated, starting up), 58 system error.
 */
const UNAVAILABLE_CLASSES = ['08', '53', '57', '58'];

/** "database … is not currently accepting connections" (ALLOW_CONNECTIONS false). */
const NOT_ACCEPTING_CONNECTIONS = '55000';

/**
 * Whether a failed statement may well succeed if tried again shortly: the
 * database was unreachable, restarting or refusing connections. An error
 * PostgreSQL raised about the statement itself (a constraint, bad data, a
 * trigger's refusal) will fail the same way again.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // Not an error PostgreSQL sent: the connection itself failed (ECONNREFUSED,
  // ECONNRESET, "Connection terminated unexpectedly", the pool's connect timeout).
  if (!(error instanceof pg.DatabaseError)) return true;
  const code = error.code ?? '';
  return code === NOT_ACCEPTING_CONNECTIONS || UNAVAILABLE_CLASSES.includes(code.slice(0, 2));
}
