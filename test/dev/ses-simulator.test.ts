import { describe, expect, it } from 'vitest';
import { simulatedEvents } from '../../src/dev/ses-simulator.js';
import { parseSesEvent } from '../../src/ses-events/ses-payload.js';

const mail = { messageId: 'ses-1', timestamp: '2026-01-01T00:00:00.000Z', destination: [] as string[] };
const now = new Date('2026-01-01T00:00:05Z');

/** What the webhook's parser reads from each simulated event: its kind and sub-type. */
function parsed(address: string) {
  return simulatedEvents(address, { ...mail, destination: [address] }, now).map((event) => {
    const read = parseSesEvent(JSON.stringify(event));
    expect(read.recipients).toEqual([address.toLowerCase()]);
    expect(read.sesMessageId).toBe('ses-1');
    return `${read.kind}${read.subType ? ` ${read.subType}` : ''}`;
  });
}

describe('SES event simulator', () => {
  it('answers each mailbox-simulator address as SES does, in a shape the webhook parses', () => {
    expect(parsed('bounce@simulator.amazonses.com')).toEqual(['hard_bounce Permanent/General']);
    expect(parsed('suppressionlist@simulator.amazonses.com')).toEqual(['hard_bounce Permanent/OnAccountSuppressionList']);
    expect(parsed('complaint@simulator.amazonses.com')).toEqual(['delivery', 'complaint abuse']);
    expect(parsed('ooto@simulator.amazonses.com')).toEqual(['delivery', 'soft_bounce Transient/General']);
    expect(parsed('Bounce+label@Simulator.AmazonSES.com')).toEqual(['hard_bounce Permanent/General']);
  });

  it('delivers every other address', () => {
    expect(parsed('success@simulator.amazonses.com')).toEqual(['delivery']);
    expect(parsed('someone@example.org')).toEqual(['delivery']);
  });
});
