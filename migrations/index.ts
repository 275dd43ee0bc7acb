import type { Migration } from 'kysely';
import * as accountTables from './0001_account_tables.js';
import * as reverifyTables from './0002_reverify_tables.js';
import * as verification from './0004_verification.js';
import * as sesEvents from './0005_ses_events.js';
import * as sesHistoryFunction from './0006_ses_history_function.js';
import * as ledgerUniqueByUser from './0007_ledger_unique_by_user.js';
import * as tokenChecksOnAddressOnly from './0008_token_checks_on_address_only.js';
import * as unconfirmedAndCooldown from './0009_unconfirmed_and_cooldown.js';
import * as sesAccount from './0010_ses_account.js';
import * as verificationRequests from './0011_verification_requests.js';
import * as stopLinksAndPolicy from './0012_stop_links_and_policy.js';
import * as sweepLateRevocations from './0014_sweep_late_revocations.js';
import * as planningIndexes from './0015_planning_indexes.js';
import * as ledgerAddressKeyOnly from './0016_ledger_address_key_only.js';

/**
 * Every migration, in order. A static list (rather than a directory scan)
 * works the same from sources, from the build and inside the Docker image.
 * Never edit a migration that has landed: add a new one.
 */
export const migrations: Record<string, Migration> = {
  '0001_account_tables': accountTables,
  '0002_reverify_tables': reverifyTables,
  '0004_verification': verification,
  '0005_ses_events': sesEvents,
  '0006_ses_history_function': sesHistoryFunction,
  '0007_ledger_unique_by_user': ledgerUniqueByUser,
  '0008_token_checks_on_address_only': tokenChecksOnAddressOnly,
  '0009_unconfirmed_and_cooldown': unconfirmedAndCooldown,
  '0010_ses_account': sesAccount,
  '0011_verification_requests': verificationRequests,
  '0012_stop_links_and_policy': stopLinksAndPolicy,
  '0014_sweep_late_revocations': sweepLateRevocations,
  '0015_planning_indexes': planningIndexes,
  '0016_ledger_address_key_only': ledgerAddressKeyOnly,
};
