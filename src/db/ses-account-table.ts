import type { ColumnType } from 'kysely';

/** The SES account's table (migration 0010), kept beside database.ts, which lists it in Database. */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** The one row of what the SES account allows (GetAccount), see src/ses-account/. */
export interface SesAccountTable {
  id: ColumnType<number, number | undefined, never>;
  /** The last GetAccount call by any process (at most one a second). */
  called_at: Timestamp;
  checked_at: Timestamp;
  outcome: 'ok' | 'access_denied' | 'unsupported' | 'invalid' | 'error';
  problem: string | null;
  /** When the figures below were read (the last good answer); null before any. */
  figures_at: NullableTimestamp;
  max_send_rate: number | null;
  max_24_hour_send: number | null;
  sent_last_24_hours: number | null;
  enforcement_status: string | null;
  sending_enabled: boolean | null;
}
