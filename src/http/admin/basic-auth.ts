import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LoginThrottle } from './login-throttle.js';

export const ADMIN_REALM = 'reverify';

// Comparing sha256 digests keeps the comparison constant-time and of fixed
// length, so neither the password nor its length leaks through timing.
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

/** Parses an `Authorization: Basic …` header into user and password, or undefined. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * An onRequest hook that answers 401 with a `WWW-Authenticate` challenge unless
 * the request carries the admin user and password. Both are always compared,
 * so a wrong user name takes as long as a wrong password. With a `throttle`,
 * a client address that sent too many wrong credentials is answered 429
 * (with Retry-After) before anything it sends is checked. A request without
 * credentials (a browser's first one, before it asks for them) is no failure.
 */
export function basicAuthGuard(credentials: { user: string; password: string }, throttle?: LoginThrottle) {
  const expectedUser = digest(credentials.user);
  const expectedPassword = digest(credentials.password);
  return async function requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const wait = throttle?.retryAfterSeconds(request.ip) ?? 0;
    if (wait > 0) {
      await reply
        .code(429)
        .header('Retry-After', String(wait))
        .send({ error: `too many failed logins from ${request.ip}: try again in ${wait} seconds` });
      return;
    }
    const given = parseBasicAuth(request.headers.authorization);
    const userOk = sameSecret(given?.user ?? '', expectedUser);
    const passwordOk = sameSecret(given?.password ?? '', expectedPassword);
    if (given && userOk && passwordOk) return;
    if (request.headers.authorization !== undefined) throttle?.recordFailure(request.ip);
    await reply
      .code(401)
      .header('WWW-Authenticate', `Basic realm="${ADMIN_REALM}"`)
      .send({ error: 'authentication required: use the ADMIN_USER and ADMIN_PASSWORD credentials' });
  };
}
