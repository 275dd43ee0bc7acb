import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The CSRF token the console's forms carry, a second layer behind the
 * same-origin check. It is an HMAC of the admin user keyed by the admin
 * password: nothing to store, the same on every server process behind a load
 * balancer, and it changes when the password does. A foreign page cannot
 * read our pages (same-origin policy), so it cannot learn the token.
 */

export const CSRF_FIELD = '_csrf';

/** The token for `user` under `password`. */
export function csrfToken(user: string, password: string): string {
  return createHmac('sha256', `reverify-csrf:${password}`).update(user, 'utf8').digest('base64url');
}

/** True when `given` is the token for `user` under `password` (compared in constant time). */
export function isValidCsrfToken(given: unknown, user: string, password: string): boolean {
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(csrfToken(user, password));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
