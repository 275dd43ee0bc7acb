import type { FastifyReply } from 'fastify';

/**
 * Headers every admin response carries, whatever answered it (our pages,
 * Bull Board's pages, assets and API, a 401 or a 404): nothing under /admin
 * may be framed, cached or sniffed into another type.
 *
 * The console's own pages run only scripts and styles served from /admin
 * itself. Bull Board's page bootstraps with an inline script and inline
 * styles, so its policy allows those (from itself only, never another host).
 */

const COMMON = {
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export const BOARD_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'";

/** Sets the admin headers on `reply`; the board (under `boardPath`) gets its own policy. */
export function setAdminHeaders(reply: FastifyReply, path: string, boardPath: string): void {
  const board = path === boardPath || path.startsWith(`${boardPath}/`);
  reply.headers({ ...COMMON, 'Content-Security-Policy': board ? BOARD_CSP : CONSOLE_CSP });
}
