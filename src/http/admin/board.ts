import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app/app.js';

export const BOARD_PATH = '/admin/queues';

/**
 * Mounts Bull Board at /admin/queues showing every queue. The caller's
 * onRequest hook guards it; with `readOnly` the board can look but not
 * retry, remove or pause.
 */
export async function registerBoard(server: FastifyInstance, app: App, options: { readOnly: boolean }): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: app.queues.all().map((queue) => new BullMQAdapter(queue, { readOnlyMode: options.readOnly })),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'reverify',
        miscLinks: [{ text: 'Campaigns', url: '/admin/campaigns' }],
      },
    },
  });
  await server.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
}
