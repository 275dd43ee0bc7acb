import type { FastifyRequest } from 'fastify';

/**
 * Cross-site request refusal for the admin area. The browser caches basic-auth
 * credentials and sends them with any request to this origin, including one a
 * foreign page makes (a form post, a no-cors fetch): so a request that changes
 * anything must prove it comes from our own pages.
 *
 * Accepted when the browser says `Sec-Fetch-Site: same-origin`, or, from
 * browsers that do not send Fetch metadata and from scripts, when `Origin`
 * is the server's own origin: that of PUBLIC_BASE_URL (what a reverse proxy
 * serves the console under) or `http://<Host>` as this server was reached
 * directly (a port-forward, the dev stack). `X-Forwarded-*` headers are never
 * trusted: anyone can send them. Everything else is refused, a request
 * with neither header included, so a script must send `Origin`.
 */

/** True for every method but GET and HEAD: those are the only ones a cross-site page may make us answer. */
export function isMutating(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

/** The origin (scheme://host[:port]) of `url`, or undefined when it is not a URL. */
export function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.origin === 'null' ? undefined : parsed.origin;
  } catch {
    return undefined;
  }
}

/** Why `request` is refused as cross-site, or undefined when it is same-origin. */
export function crossSiteRefusal(request: FastifyRequest, publicBaseUrl: string): string | undefined {
  const fetchSite = header(request, 'sec-fetch-site');
  if (fetchSite !== undefined) {
    return fetchSite === 'same-origin' ? undefined : `Sec-Fetch-Site is "${fetchSite}"; only same-origin requests may change anything under /admin`;
  }
  const origin = header(request, 'origin');
  if (origin === undefined) {
    return 'the request carries neither Sec-Fetch-Site nor Origin; a script must send "Origin: <the console\'s origin>" to change anything under /admin';
  }
  const own = ownOrigins(request, publicBaseUrl);
  return own.includes(origin.toLowerCase()) ? undefined : `Origin "${origin}" is not this server's (${own.join(' or ')})`;
}

function ownOrigins(request: FastifyRequest, publicBaseUrl: string): string[] {
  const origins = new Set<string>();
  const configured = originOf(publicBaseUrl);
  if (configured) origins.add(configured.toLowerCase());
  const host = header(request, 'host');
  const direct = host ? originOf(`${request.protocol}://${host}`) : undefined;
  if (direct) origins.add(direct.toLowerCase());
  return [...origins];
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}
