import type { FastifyInstance, FastifyReply } from 'fastify';
import type { App } from '../../app/app.js';
import { siteNameFromBaseUrl } from '../../mail/render.js';
import { badRequestPage, PAGE_SECURITY_HEADERS, unavailablePage, type Page } from '../../verification/pages.js';
import { stopConfirmationPage, stopResultPage } from '../../verification/stop-pages.js';
import { confirmStop, inspectStop } from '../../verification/stop.js';

/**
 * GET /stop/:token shows a page with a button and changes nothing (mail
 * scanners fetch links); POST /stop/:token suppresses the address. A POST
 * whose body is the RFC 8058 `List-Unsubscribe=One-Click` is a mailbox
 * provider's request: answered 200 with no page once the stop is committed
 * (or was already). Like /verify, nothing here logs the request: its URL
 * holds the token.
 */

const ONE_CLICK = /(^|&)List-Unsubscribe=One-Click(&|$)/;

export async function stopRoutes(server: FastifyInstance, app: App): Promise<void> {
  const context = {
    siteName: siteNameFromBaseUrl(app.config.PUBLIC_BASE_URL),
    host: new URL(app.config.PUBLIC_BASE_URL).host,
  };
  const log = app.log.child({ component: 'stop' });

  await server.register(async (scope) => {
    // The only thing read from a body is whether it is the one-click request: keep it as text, whatever its type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 16 * 1024 }, (_req, body, done) => done(null, body.toString('latin1')));

    scope.setErrorHandler((error: Error & { statusCode?: number }, _req, reply) => {
      const status = error.statusCode;
      if (status !== undefined && status >= 400 && status < 500) return send(reply, badRequestPage(status, context));
      log.error({ err: { message: error.message, name: error.name } }, 'stop request failed');
      return send(reply, unavailablePage(context));
    });

    scope.get<{ Params: { token: string } }>('/stop/:token', async (req, reply) => {
      return send(reply, stopConfirmationPage(await inspectStop(app.db, req.params.token), context));
    });

    scope.post<{ Params: { token: string }; Body: string | undefined }>('/stop/:token', async (req, reply) => {
      const oneClick = typeof req.body === 'string' && ONE_CLICK.test(req.body.trim());
      const result = await confirmStop(app.db, req.params.token, oneClick ? 'one-click' : 'web', app.clock());
      if (result.status === 'stopped') log.info({ channel: oneClick ? 'one-click' : 'web' }, 'mail to an address stopped at its recipient’s request');
      if (oneClick && result.status !== 'unknown') return reply.code(200).headers(PAGE_SECURITY_HEADERS).send();
      return send(reply, stopResultPage(result, context));
    });
  });
}

function send(reply: FastifyReply, page: Page): FastifyReply {
  return reply.code(page.statusCode).headers(PAGE_SECURITY_HEADERS).type('text/html; charset=utf-8').send(page.html);
}
