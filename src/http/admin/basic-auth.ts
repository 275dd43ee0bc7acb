import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

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
 * so a wrong user name takes as long as a wrong password.
 */
export function basicAuthGuard(credentials: { user: string; password: string }) {
  const expectedUser = digest(credentials.user);
  const expectedPassword = digest(credentials.password);
  return async function requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const given = parseBasicAuth(request.headers.authorization);
    const userOk = sameSecret(given?.user ?? '', expectedUser);
    const passwordOk = sameSecret(given?.password ?? '', expectedPassword);
    if (given && userOk && passwordOk) return;
    await reply
      .code(401)
      .header('WWW-Authenticate', `Basic realm="${ADMIN_REALM}"`)
      .header('Cache-Control', 'no-store')
      .send({ error: 'authentication required: use the ADMIN_USER and ADMIN_PASSWORD credentials' });
  };
}
