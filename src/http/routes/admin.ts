import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { App } from '../../app/app.js';
import { getCampaignSummary, listCampaignSummaries } from '../../campaigns/summary.js';
import { registerConsoleAssets } from '../admin/assets.js';
import { basicAuthGuard } from '../admin/basic-auth.js';
import { BOARD_PATH, registerBoard } from '../admin/board.js';
import { LoginThrottle, type LoginThrottleOptions } from '../admin/login-throttle.js';
import { crossSiteRefusal, isMutating } from '../admin/same-origin.js';
import { setAdminHeaders } from '../admin/security-headers.js';
import { adminApiRoutes } from './admin-api.js';
import { adminCampaignRoutes } from './admin-campaigns.js';
import { adminSupportRoutes } from './admin-support.js';

/** Refusals to serve the admin area with the ADMIN_PASSWORD given. */
export class AdminPasswordError extends Error {}

/** Thrown when the admin area would be served without a password. */
export class AdminPasswordMissingError extends AdminPasswordError {
  constructor() {
    super(
      'reverify cannot start the dashboard: ADMIN_PASSWORD is not set. Set ADMIN_PASSWORD (and ADMIN_USER, default "admin") ' +
        'so /admin is behind HTTP basic auth, or start the server with --no-dashboard.',
    );
    this.name = 'AdminPasswordMissingError';
  }
}

/** The shortest ADMIN_PASSWORD the admin area accepts. */
export const MIN_ADMIN_PASSWORD_LENGTH = 12;

/** Thrown when ADMIN_PASSWORD is too short to guard buttons that run campaigns. */
export class AdminPasswordTooShortError extends AdminPasswordError {
  constructor(length: number) {
    super(
      `reverify cannot start the dashboard: ADMIN_PASSWORD has ${length} characters, fewer than ${MIN_ADMIN_PASSWORD_LENGTH}. ` +
        'Set a longer one (e.g. the output of "openssl rand -base64 18"), or start the server with --no-dashboard.',
    );
    this.name = 'AdminPasswordTooShortError';
  }
}

/** Failed logins allowed per client address before it waits (see LoginThrottle). */
export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = { limit: 10, windowMs: 15 * 60_000 };

export interface AdminOptions {
  /** Failed-login throttling; false turns it off (tests that send many wrong passwords on purpose). */
  readonly loginThrottle?: LoginThrottleOptions | false;
}

/** True for any path under /admin, however the client spelled it. */
function isAdminPath(request: FastifyRequest): boolean {
  const matched = request.routeOptions.url;
  if (matched !== undefined && (matched === '/admin' || matched.startsWith('/admin/'))) return true;
  const path = normalizedPath(request);
  return path === '/admin' || path.startsWith('/admin/');
}

function normalizedPath(request: FastifyRequest): string {
  let path = request.url.split('?')[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape is judged on the raw path.
  }
  return path.replace(/\/{2,}/g, '/').toLowerCase();
}

/**
 * The admin area: Bull Board at /admin/queues, the operator console at
 * /admin/campaigns, /admin/addresses and /admin/sweeps, and the JSON API at
 * /admin/api. Root-level hooks guard every /admin path, including the board's
 * assets, its API and paths that match no route: basic auth (with failed
 * logins throttled), then cross-site refusal of anything but GET and HEAD;
 * every answer carries the no-framing, no-caching headers.
 */
export async function adminRoutes(server: FastifyInstance, app: App, options: AdminOptions = {}): Promise<void> {
  const password = app.config.ADMIN_PASSWORD;
  if (password === undefined) throw new AdminPasswordMissingError();
  if ([...password].length < MIN_ADMIN_PASSWORD_LENGTH) throw new AdminPasswordTooShortError([...password].length);
  const throttleOptions = options.loginThrottle ?? DEFAULT_LOGIN_THROTTLE;
  const throttle = throttleOptions === false ? undefined : new LoginThrottle(throttleOptions);
  const guard = basicAuthGuard({ user: app.config.ADMIN_USER, password }, throttle);
  server.addHook('onRequest', async (request, reply) => {
    if (!isAdminPath(request)) return;
    await guard(request, reply);
    if (reply.sent || !isMutating(request.method)) return;
    const refusal = crossSiteRefusal(request, app.config.PUBLIC_BASE_URL);
    if (refusal) await reply.code(403).send({ error: `refused: ${refusal}` });
  });
  server.addHook('onSend', async (request, reply, payload) => {
    if (isAdminPath(request)) setAdminHeaders(reply, normalizedPath(request), BOARD_PATH);
    return payload;
  });

  await registerBoard(server, app, { readOnly: app.config.ADMIN_READ_ONLY });
  registerConsoleAssets(server);
  server.get('/admin', async (_request, reply) => reply.redirect('/admin/campaigns'));

  server.get('/admin/api/campaigns', async () => ({ campaigns: await listCampaignSummaries(app.db) }));
  server.get<{ Params: { id: string } }>('/admin/api/campaigns/:id', async (request, reply) => {
    const { id } = request.params;
    if (!isCampaignId(id)) return reply.code(400).send({ error: `campaign id must be a number, got "${id}"` });
    const summary = await getCampaignSummary(app.db, id);
    if (!summary) return reply.code(404).send({ error: `no campaign with id ${id}` });
    return summary;
  });

  await adminApiRoutes(server, app);
  await adminCampaignRoutes(server, app);
  await adminSupportRoutes(server, app);
}

/** Campaign ids in paths: a bigint's digits. */
export function isCampaignId(id: string): boolean {
  return /^\d{1,18}$/.test(id);
}
