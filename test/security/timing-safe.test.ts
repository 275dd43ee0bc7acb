import * as crypto from 'node:crypto';
import Fastify from 'fastify';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { basicAuthGuard } from '../../src/http/admin/basic-auth.js';

/**
 * The admin password check must not leak through timing: every attempt,
 * whatever the length of what was typed, is compared with
 * crypto.timingSafeEqual over equal-length digests, for the user and the
 * password both. Checked by watching the calls, not by reading the source.
 */

const calls: Array<{ a: number; b: number }> = [];
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return {
    ...original,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push({ a: a.byteLength, b: b.byteLength });
      return original.timingSafeEqual(a, b);
    },
  };
});

const PASSWORD = 'a fairly long admin password';
const server = Fastify();
server.addHook('onRequest', basicAuthGuard({ user: 'operator', password: PASSWORD }));
server.get('/admin/x', async () => ({ ok: true }));

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  calls.length = 0;
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('admin password comparison', () => {
  it('the mocked timingSafeEqual is the one node:crypto exports to the guard', () => {
    crypto.timingSafeEqual(Buffer.alloc(1), Buffer.alloc(1));
    expect(calls).toHaveLength(1);
  });

  const wrong = ['', 'a', PASSWORD.slice(0, -1), `${PASSWORD}!`, PASSWORD.toUpperCase(), 'x'.repeat(100_000), 'pässwörd 🔑', `${PASSWORD}\u0000`];
  it.each(wrong.map((password) => [password.length, password]))('refuses a wrong password of length %i through timingSafeEqual on equal-length digests', async (_length, password) => {
    const response = await server.inject({ method: 'GET', url: '/admin/x', headers: { authorization: basic('operator', password) } });
    expect(response.statusCode).toBe(401);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const call of calls) {
      expect(call.a).toBe(call.b);
      expect(call.a).toBe(32);
    }
  });

  it('compares the password even when the user name is wrong, and both when there are no credentials', async () => {
    await server.inject({ method: 'GET', url: '/admin/x', headers: { authorization: basic('someone-else', PASSWORD) } });
    expect(calls).toHaveLength(2);
    calls.length = 0;
    await server.inject({ method: 'GET', url: '/admin/x' });
    expect(calls).toHaveLength(2);
  });

  it('accepts the right password through the same comparison', async () => {
    const response = await server.inject({ method: 'GET', url: '/admin/x', headers: { authorization: basic('operator', PASSWORD) } });
    expect(response.statusCode).toBe(200);
    expect(calls).toHaveLength(2);
  });
});
