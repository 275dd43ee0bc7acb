import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import type { StoredEmail } from './local-ses.js';

/** A message the SES simulator has seen and whose events have not all reached the webhook. */
export interface PendingMessage {
  email: StoredEmail;
  /** When it was first seen (ms); 0 for one carried over from an earlier run. */
  firstSeen: number;
  /** The events still to post; empty until they are made, once the message has settled. */
  events: Array<Record<string, unknown>>;
  attempts: number;
}

/**
 * The simulator's pending messages, kept in a file across runs. The local SES
 * keeps its messages in memory only, so a message sent just before a stop
 * would otherwise never get its bounce or complaint: the next run delivers it.
 */
export async function loadPending(file: string, log: Logger): Promise<PendingMessage[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const items = JSON.parse(text) as PendingMessage[];
    if (!Array.isArray(items)) throw new Error('not a list');
    return items.filter((item) => typeof item?.email?.messageId === 'string').map((item) => ({ ...item, firstSeen: 0, attempts: 0 }));
  } catch (error) {
    // A damaged file (a crash mid-write on another filesystem) must not block the dev stack.
    log.warn({ err: error, file }, 'SES simulator: ignoring an unreadable file of pending events');
    return [];
  }
}

/** Writes the pending messages (or removes the file when there are none), replacing the file in one step. */
export async function savePending(file: string, items: readonly PendingMessage[]): Promise<void> {
  if (items.length === 0) {
    await rm(file, { force: true });
    return;
  }
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(items), { mode: 0o600 });
  await rename(temporary, file);
}
