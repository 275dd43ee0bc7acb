import { CronExpressionParser } from 'cron-parser';

/**
 * The daily budget: no UTC day ever sends more than `per_day` messages of a
 * campaign, and a day's budget is spread over the ticks its cron schedule
 * still has that day, so a schedule of "every hour" mails a little each hour
 * rather than everyone at midnight (see budgetTargetByNow).
 */

const DAY_MS = 86_400_000;

/** The UTC calendar day of `instant` as YYYY-MM-DD (the `send_day` column). */
export function utcDay(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** Midnight UTC at the start of the day after `instant`. */
export function endOfUtcDay(instant: Date): Date {
  return new Date(Math.floor(instant.getTime() / DAY_MS) * DAY_MS + DAY_MS);
}

/** The day after `day` (YYYY-MM-DD), or `days` later. */
export function addDays(day: string, days: number): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS));
}

/** Midnight UTC at the start of `instant`'s day. */
export function startOfUtcDay(instant: Date): Date {
  return new Date(Math.floor(instant.getTime() / DAY_MS) * DAY_MS);
}

/**
 * How many times the cron fires in [from, to] (both ends included), in UTC.
 * Counted, not walked: on a day the cron fires at all, it fires at every
 * combination of its hours, minutes and seconds, so each day's count is
 * arithmetic over those three lists. Walking the instants one by one took
 * 260 ms per budget of a two-second schedule (0.6 ms now), on the worker's
 * event loop at every tick, holding its sends up: chaos db-outage sent 51
 * a second instead of 58 after midnight UTC, when most of the day's ticks
 * are still to come.
 */
export function countTicks(schedule: string, from: Date, to: Date): number {
  if (to.getTime() < from.getTime()) return 0;
  const cron = CronExpressionParser.parse(schedule, { tz: 'UTC' });
  const { hour, minute, second } = cron.fields;
  const times = { hours: hour.values, minutes: minute.values, seconds: second.values };
  let ticks = 0;
  for (let day = startOfUtcDay(from).getTime(); day <= to.getTime(); day += DAY_MS) {
    if (!firesOn(schedule, day)) continue;
    // Ticks fall on whole seconds: the seconds of this day inside [from, to].
    const first = Math.max(0, Math.ceil((from.getTime() - day) / 1000));
    const last = Math.min(DAY_MS / 1000 - 1, Math.floor((to.getTime() - day) / 1000));
    ticks += ticksWithin(times, first, last);
  }
  return ticks;
}

/** Whether the cron fires at all on the UTC day starting at `dayStart` (its day-of-month, month and day-of-week rules). */
function firesOn(schedule: string, dayStart: number): boolean {
  const cron = CronExpressionParser.parse(schedule, { currentDate: new Date(dayStart - 1), tz: 'UTC' });
  return cron.next().getTime() < dayStart + DAY_MS;
}

/** How many (hour, minute, second) of the lists lie in [first, last], in seconds since midnight. */
function ticksWithin(times: { hours: readonly number[]; minutes: readonly number[]; seconds: readonly number[] }, first: number, last: number): number {
  let ticks = 0;
  for (const hour of times.hours) {
    const hourStart = hour * 3600;
    if (hourStart + 3599 < first || hourStart > last) continue;
    if (hourStart >= first && hourStart + 3599 <= last) {
      ticks += times.minutes.length * times.seconds.length;
      continue;
    }
    for (const minute of times.minutes) {
      const minuteStart = hourStart + minute * 60;
      if (minuteStart + 59 < first || minuteStart > last) continue;
      ticks += times.seconds.filter((second) => minuteStart + second >= first && minuteStart + second <= last).length;
    }
  }
  return ticks;
}

/**
 * How much of today's budget may be queued by the end of the tick running at
 * `now`: the budget times the share of today's ticks that have come (the
 * first tick at starts_at counts as one when it is not on the cron), rounded
 * up. A tick that runs twice, or late, asks for the same target, so it never
 * spends another tick's share; a missed tick's share is caught up by the next.
 */
export function budgetTargetByNow(schedule: string, perDay: number, startsAt: Date, now: Date): number {
  const dayStart = startOfUtcDay(now);
  const lastInstant = new Date(endOfUtcDay(now).getTime() - 1);
  const windowStart = startsAt.getTime() > dayStart.getTime() ? startsAt : dayStart;
  const startTick = startsAt.getTime() >= dayStart.getTime() && countTicks(schedule, startsAt, startsAt) === 0 ? 1 : 0;
  const total = startTick + countTicks(schedule, windowStart, lastInstant);
  const elapsed = Math.max(1, startTick + countTicks(schedule, windowStart, now));
  if (total === 0) return perDay;
  return Math.min(perDay, Math.ceil((perDay * Math.min(elapsed, total)) / total));
}

/** What this tick may queue: its target minus what today has used, never negative. */
export function tickAllowance(target: number, usedToday: number): number {
  return Math.max(0, target - usedToday);
}

/** Days the budget needs to reach `eligible` people: ceil(eligible / perDay). */
export function projectedDays(eligible: number, perDay: number): number {
  return Math.ceil(eligible / perDay);
}

/** The UTC day the last of `eligible` people would be mailed when sending starts on `startDay`; null when nobody is left. */
export function projectedFinish(eligible: number, perDay: number, start: Date): string | null {
  const days = projectedDays(eligible, perDay);
  if (days === 0) return null;
  return addDays(utcDay(start), days - 1);
}

/** True when `expression` is a cron expression cron-parser accepts (UTC). */
export function isValidCron(expression: string): boolean {
  try {
    CronExpressionParser.parse(expression, { tz: 'UTC' });
    return true;
  } catch {
    return false;
  }
}
