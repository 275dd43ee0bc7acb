import type { FastifyInstance, FastifyReply } from 'fastify';
import type { App } from '../../app/app.js';
import { siteNameFromBaseUrl } from '../../mail/render.js';
import { confirmVerification, inspectVerification } from '../../verification/confirm.js';
import {
  badRequestPage,
  confirmationPage,
  PAGE_SECURITY_HEADERS,
  resultPage,
  unavailablePage,
  type Page,
} from '../../verification/pages.js';

/**
 * GET /verify/:token shows a confirmation page and changes nothing — mail
 * scanners and link previews fetch every link in a message. POST
 * /verify/:token confirms.
 *
 * The token is a secret until used: it is never logged. `req.url` contains it,
 * so nothing here logs the request, and errors are caught in this plugin
 * rather than reaching Fastify's error logging.
 */
export async function verifyRoutes(server: FastifyInstance, app: App): Promise<void> {
  const context = {
    siteName: siteNameFromBaseUrl(app.config.PUBLIC_BASE_URL),
    host: new URL(app.config.PUBLIC_BASE_URL).host,
  };
  const log = app.log.child({ component: 'verify' });

  // Encapsulated, so the body handling below applies to these routes only.
  await server.register(async (scope) => {
    // The confirmation needs nothing from the body: accept a form post, JSON,
    // anything or nothing, without parsing (and failing on) it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 16 * 1024 }, (_req, _body, done) => done(null, undefined));

    scope.setErrorHandler((error: Error & { statusCode?: number }, _req, reply) => {
      const status = error.statusCode;
      if (status !== undefined && status >= 400 && status < 500) return send(reply, badRequestPage(status, context));
      // Message and name only: the request (whose URL holds the token) stays out of the log.
      log.error({ err: { message: error.message, name: error.name } }, 'verification request failed');
      return send(reply, unavailablePage(context));
    });

    scope.get<{ Params: { token: string } }>('/verify/:token', async (req, reply) => {
      const view = await inspectVerification(app.db, req.params.token, app.clock());
      return send(reply, confirmationPage(view, context));
    });

    scope.post<{ Params: { token: string } }>('/verify/:token', async (req, reply) => {
      const result = await confirmVerification(app.db, req.params.token, app.clock());
      if (result.status === 'verified') log.info({ alreadyVerified: result.alreadyVerified }, 'email address verified');
      return send(reply, resultPage(result, context));
    });
  });
}

function send(reply: FastifyReply, page: Page): FastifyReply {
  return reply.code(page.statusCode).headers(PAGE_SECURITY_HEADERS).type('text/html; charset=utf-8').send(page.html);
}
