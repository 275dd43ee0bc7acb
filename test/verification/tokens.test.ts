import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { hashToken, issueVerificationToken, newVerificationTokens, verificationUrl } from '../../src/verification/tokens.js';
import { useTestEnv } from '../helpers/env.js';
import { createLedgerRow, createRoleHolder } from './fixtures.js';

const env = useTestEnv();
const now = new Date('2026-03-01T12:00:00Z');

describe('issueVerificationToken', () => {
  it('makes a token of at least 128 random bits and stores only its sha256', async () => {
    const person = await createRoleHolder(env.db, 'token-bits');
    const { recipientId } = await createLedgerRow(env.db, person);
    const { token, expiresAt } = await issueVerificationToken(env.db, {
      ...person,
      purpose: 'campaign',
      campaignRecipientId: recipientId,
      now,
      ttlHours: 168,
    });
    expect(Buffer.from(token, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(expiresAt.toISOString()).toBe('2026-03-08T12:00:00.000Z');

    const row = await env.db.selectFrom('verification_tokens').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      user_id: person.userId,
      email_id: person.emailId,
      email: person.email,
      purpose: 'campaign',
      campaign_recipient_id: recipientId,
      used_at: null,
    });
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.expires_at.toISOString()).toBe('2026-03-08T12:00:00.000Z');

    const everything = await sql<{ dump: string }>`SELECT string_agg(row_to_json(t)::text, ' ') AS dump FROM verification_tokens t`.execute(env.db);
    expect(everything.rows[0]?.dump).not.toContain(token);
  });

  it('never makes the same token twice', async () => {
    const person = await createRoleHolder(env.db, 'token-unique');
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => issueVerificationToken(env.db, { ...person, purpose: 'user_request', now, ttlHours: 1 })),
    );
    expect(new Set(tokens.map((t) => t.token)).size).toBe(20);
  });

  it('issues a send job’s tokens from one draw of random bits, each its own 256 bits and hash', () => {
    const tokens = newVerificationTokens(32, now, 168);
    expect(tokens).toHaveLength(32);
    expect(new Set(tokens.map((t) => t.token)).size).toBe(32);
    for (const { token, tokenHash, expiresAt } of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
      expect(tokenHash).toBe(hashToken(token));
      expect(expiresAt.toISOString()).toBe('2026-03-08T12:00:00.000Z');
    }
    // Each token is its own slice of the draw, not a repeat of its neighbour's.
    const bytes = tokens.map((t) => Buffer.from(t.token, 'base64url'));
    for (let i = 1; i < bytes.length; i += 1) expect(bytes[i]!.equals(bytes[i - 1]!)).toBe(false);
    expect(() => newVerificationTokens(2, now, 0)).toThrow(/positive number of hours/);
  });

  it('builds a plain link on the public base URL', () => {
    expect(verificationUrl('https://example.org/', 'abc_-9')).toBe('https://example.org/verify/abc_-9');
    expect(verificationUrl('https://example.org/site', 'abc')).toBe('https://example.org/site/verify/abc');
  });
});
