import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sampleSesEvent } from '../../src/dev/sample-events.js';
import type { AddressEventKind } from '../../src/ses-events/state-machine.js';
import { useTestEnv } from '../helpers/env.js';
import { addAddress, addressState, post, TOPIC, useWebhook } from './helpers.js';

const env = useTestEnv();
const hook = useWebhook(env);

const KINDS: AddressEventKind[] = ['hard_bounce', 'soft_bounce', 'soft_bounce', 'complaint', 'delivery', 'delivery', 'delivery_delay', 'send', 'undetermined_bounce'];

/** A small deterministic generator, so a failing order can be replayed. */
function generator(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('arrival order', () => {
  it('events of different messages, delivered 1–3 times in shuffled order and concurrently, end as if delivered once in order', async () => {
    const random = generator(20261124);
    const people = 30;
    const perPerson = 4; // below SOFT_BOUNCE_LIMIT (5): reaching it is the one order-dependent step, documented in the table
    const inOrder = await Promise.all(Array.from({ length: people }, () => addAddress(env.db, { verified: true })));
    const shuffled = await Promise.all(Array.from({ length: people }, () => addAddress(env.db, { verified: true })));
    const start = Date.now() - 30 * 60_000;
    const plan = Array.from({ length: people * perPerson }, (_, i) => ({
      person: i % people,
      kind: KINDS[Math.floor(random() * KINDS.length)] as AddressEventKind,
      at: new Date(start + i * 500),
    }));
    const sign = (to: string, step: (typeof plan)[number]) =>
      hook.signer.signedNotification({ topicArn: TOPIC, message: sampleSesEvent(step.kind, { to, at: step.at, sesMessageId: randomUUID() }), timestamp: step.at });

    for (const step of plan) expect((await post(hook.server, sign(inOrder[step.person]!.email, step))).statusCode).toBe(200);

    const deliveries = plan.flatMap((step) => {
      const message = sign(shuffled[step.person]!.email, step);
      return Array.from({ length: 1 + Math.floor(random() * 3) }, () => message);
    });
    for (let i = deliveries.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < deliveries.length; i = next++) expect((await post(hook.server, deliveries[i]!)).statusCode).toBe(200);
      }),
    );

    const differences: string[] = [];
    for (let person = 0; person < people; person += 1) {
      const expected = await addressState(env.db, inOrder[person]!.emailId);
      const actual = await addressState(env.db, shuffled[person]!.emailId);
      const steps = plan.filter((step) => step.person === person).map((step) => step.kind).join(' ');
      if (JSON.stringify(expected) !== JSON.stringify(actual)) differences.push(`${steps}: in order ${JSON.stringify(expected)}, shuffled ${JSON.stringify(actual)}`);
    }
    expect(differences).toEqual([]);
  });
});
