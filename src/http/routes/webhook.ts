import type { FastifyInstance } from 'fastify';
import type { App } from '../../app/app.js';
import type { FetchLike } from '../../ses-events/cert-store.js';
import type { CertificateStore } from '../../ses-events/cert-store.js';
import { createSnsWebhook } from '../../ses-events/webhook.js';

/** SNS bodies above this are refused with 413. */
export const WEBHOOK_BODY_LIMIT = 256 * 1024;

export interface WebhookRouteOptions {
  /** Certificate downloads and subscription confirmations (tests and benchmarks pass their own). */
  readonly fetch?: FetchLike;
  readonly certificates?: CertificateStore;
  readonly reputationGuard?: (campaignId: string) => Promise<{ paused: boolean; reason?: string }>;
}

/** Builds the `POST /webhooks/ses` route plugin with injected dependencies. */
export function createWebhookRoutes(options: WebhookRouteOptions = {}) {
  return async function webhookRoutes(server: FastifyInstance, app: App): Promise<void> {
    const webhook = createSnsWebhook({ db: app.db, config: app.config, log: app.log.child({ component: 'ses-webhook' }), clock: app.clock, ...options });
    // Own scope: SNS sends text/plain JSON, so this route reads every body as
    // text; other routes keep Fastify's parsers.
    await server.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));
      scope.setErrorHandler(async (error: { statusCode?: number; message: string }, _request, reply) => {
        const status = error.statusCode ?? 500;
        if (status === 413) {
          const refused = webhook.reject('too_large', 413, `body is larger than ${WEBHOOK_BODY_LIMIT} bytes`);
          return reply.code(refused.status).send(refused.body);
        }
        if (status >= 400 && status < 500) {
          const refused = webhook.reject('malformed', 400, error.message);
          return reply.code(refused.status).send(refused.body);
        }
        app.log.error({ err: error }, 'webhook failed');
        return reply.code(500).send({ error: 'internal error' });
      });
      scope.post('/webhooks/ses', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => {
        const header = request.headers['x-amz-sns-message-type'];
        const result = await webhook.handle({
          messageTypeHeader: Array.isArray(header) ? header[0] : header,
          body: typeof request.body === 'string' ? request.body : '',
        });
        return reply.code(result.status).send(result.body);
      });
    });
  };
}

/** `POST /webhooks/ses`: the SNS endpoint for SES bounces, complaints and deliveries. */
export const webhookRoutes = createWebhookRoutes();
