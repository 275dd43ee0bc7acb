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
  if (error instanceof pg.DatabaseError) {
    const code = error.code ?? '';
    return code === NOT_ACCEPTING_CONNECTIONS || UNAVAILABLE_CLASSES.includes(code.slice(0, 2));
  }
  if (!(error instanceof Error)) return false;
  // Not from PostgreSQL: the connection itself failed (a socket error such as
  // ECONNREFUSED or ECONNRESET, or pg's own words for a lost connection or
  // the pool's connect timeout). Anything else is a bug, not an outage.
  const { code } = error as { code?: unknown };
  return (typeof code === 'string' && SOCKET_ERRORS.has(code)) || CONNECTION_LOST.test(error.message);
}

/** Node's socket errors that mean the database's host could not be reached or went away. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** pg's messages for a connection lost or never made (they carry no code). */
const CONNECTION_LOST = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|timeout expired/i;
