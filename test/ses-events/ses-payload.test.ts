import { describe, expect, it } from 'vitest';
import { parseSesEvent } from '../../src/ses-events/ses-payload.js';
import { sampleSesEvent } from '../../src/dev/sample-events.js';

describe('SES payloads', () => {
  it('reads a configuration-set bounce with its tags and every recipient', () => {
    const event = parseSesEvent(
      sampleSesEvent('hard_bounce', { to: ['A@Example.net', '"Bee" <b@example.net>'], sesMessageId: 'ses-1', tags: { campaign_id: '7', recipient_id: '42', kind: 'campaign' } }),
    );
    expect(event).toMatchObject({
      type: 'Bounce',
      kind: 'hard_bounce',
      subType: 'Permanent/General',
      recipients: ['a@example.net', 'b@example.net'],
      sesMessageId: 'ses-1',
      campaignId: '7',
      recipientId: '42',
    });
  });

  it.each([
    ['Transient', 'soft_bounce'],
    ['Undetermined', 'undetermined_bounce'],
  ] as const)('reads a %s bounce in the identity-notification shape', (_type, kind) => {
    const event = parseSesEvent(sampleSesEvent(kind, { to: 'x@example.net', shape: 'notification' }));
    expect(event.kind).toBe(kind);
    expect(event.campaignId).toBeNull();
  });

  it('reads complaint feedback types, deliveries, sends, rejects and delays', () => {
    expect(parseSesEvent(sampleSesEvent('complaint', { to: 'x@example.net', subType: 'not-spam' }))).toMatchObject({ kind: 'complaint', subType: 'not-spam' });
    expect(parseSesEvent(sampleSesEvent('delivery', { to: ['x@example.net', 'y@example.net'] })).recipients).toEqual(['x@example.net', 'y@example.net']);
    expect(parseSesEvent(sampleSesEvent('send', { to: 'x@example.net' })).kind).toBe('send');
    expect(parseSesEvent(sampleSesEvent('reject', { to: 'x@example.net' }))).toMatchObject({ kind: 'reject', subType: 'Bad content' });
    expect(parseSesEvent(sampleSesEvent('delivery_delay', { to: 'x@example.net' }))).toMatchObject({ kind: 'delivery_delay', subType: 'MailboxFull' });
  });

  it('turns anything unexpected into an unknown event instead of throwing', () => {
    for (const message of ['not json', '[]', 'null', '{}', '{"eventType":"Click"}', '{"eventType":"Bounce","bounce":"nonsense","mail":7}']) {
      expect(() => parseSesEvent(message)).not.toThrow();
    }
    expect(parseSesEvent('{"eventType":"Click"}').kind).toBe('unknown');
    expect(parseSesEvent('{"eventType":"Bounce","bounce":"nonsense"}')).toMatchObject({ kind: 'undetermined_bounce', recipients: [] });
    expect(parseSesEvent('{"eventType":"Bounce","mail":{"tags":{"campaign_id":["1; drop"]}}}').campaignId).toBeNull();
  });
});

describe('text PostgreSQL would refuse', () => {
  it('drops NUL and lone surrogates from stored text and refuses addresses with control characters', () => {
    const message = sampleSesEvent('hard_bounce', { to: ['nul\u0000@example.net', 'ok@example.net'], subType: 'General\u0000\ud800' });
    const event = parseSesEvent(message);
    expect(event.recipients).toEqual(['ok@example.net']);
    expect(event.subType).toBe('Permanent/General\ufffd');
    expect(event.payloadJson).not.toMatch(/\\u0000|\\ud800/);
    expect(JSON.parse(event.payloadJson)).toMatchObject({ eventType: 'Bounce' });
    expect(parseSesEvent('not json \u0000').payloadJson).not.toContain('\\u0000');
  });

  it('treats times no mail system could have meant as unknown', () => {
    const message = sampleSesEvent('delivery', { to: 'x@example.net' }).replaceAll(/"timestamp":"[^"]+"/g, '"timestamp":"-010000-01-01T00:00:00.000Z"');
    expect(parseSesEvent(message)).toMatchObject({ occurredAt: null, sentAt: null });
  });

  it('stores the message text as it came when nothing needs cleaning', () => {
    const message = sampleSesEvent('delivery', { to: 'x@example.net' });
    expect(parseSesEvent(message).payloadJson).toBe(message);
  });
});
