import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time spent by each kind of process over a stretch of wall time. On a
 * 2-core machine a contender's rate is bounded by the CPU all its parts
 * need per message (its own process, the SES stand-in, PostgreSQL, Redis),
 * not by its own process alone; this tells which part grew.
 */
export type CpuByPart = Record<string, { total: number; system: number }>;

/** Linux's clock tick for /proc times; 100 on every kernel this runs on. */
const TICKS_PER_SECOND = 100;

/** Names a process's part from its pid and command name; undefined leaves it out. */
export type PartOf = (pid: number, command: string) => string | undefined;

/** The parts of a bench run: this process, the local SES child, PostgreSQL, Redis, and everything else. */
export function benchParts(sesPid: number | undefined): PartOf {
  return (pid, command) => {
    if (pid === process.pid) return 'bench';
    if (pid === sesPid) return 'ses';
    if (command === 'postgres') return 'postgres';
    if (command.startsWith('redis-server')) return 'redis';
    return 'other';
  };
}

/**
 * Starts watching; `stop` returns CPU seconds per part since (in all, and
 * in the kernel: a loopback connection's packets are handled in the
 * sender's system time). A process that
 * started meanwhile counts whole; one that ended meanwhile is lost (the
 * pool's connections live through a round). Undefined where /proc is not there.
 */
export function watchProcessCpu(partOf: PartOf): { stop(): CpuByPart | undefined } {
  const start = readAll(partOf);
  return {
    stop() {
      const end = readAll(partOf);
      if (!start || !end) return undefined;
      const byPart: CpuByPart = {};
      for (const [pid, now] of end) {
        const before = start.get(pid);
        const since = before && before.part === now.part ? before : { user: 0, system: 0 };
        const part = (byPart[now.part] ??= { total: 0, system: 0 });
        part.total += (now.user - since.user + now.system - since.system) / TICKS_PER_SECOND;
        part.system += (now.system - since.system) / TICKS_PER_SECOND;
      }
      return byPart;
    },
  };
}

/** "N µs CPU a message (part µs (kernel µs), …)", mean of rounds, largest part first. */
export function describeCpuPerMessage(rounds: ReadonlyArray<CpuByPart | undefined>, messages: number): string {
  const known = rounds.filter((round): round is CpuByPart => round !== undefined);
  if (known.length === 0) return 'not measured';
  const totals: CpuByPart = {};
  for (const round of known) {
    for (const [name, seconds] of Object.entries(round)) {
      const part = (totals[name] ??= { total: 0, system: 0 });
      part.total += seconds.total;
      part.system += seconds.system;
    }
  }
  const us = (seconds: number) => (seconds / known.length / messages) * 1e6;
  const all = Object.values(totals).reduce((sum, part) => sum + us(part.total), 0);
  const parts = Object.entries(totals)
    .sort((a, b) => b[1].total - a[1].total)
    .map(([name, part]) => `${name} ${us(part.total).toFixed(0)} (kernel ${us(part.system).toFixed(0)})`);
  return `${all.toFixed(0)} µs CPU a message (${parts.join(', ')})`;
}

function readAll(partOf: PartOf): Map<number, { part: string; user: number; system: number }> | undefined {
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return undefined;
  }
  const times = new Map<number, { part: string; user: number; system: number }>();
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // ended between the listing and the read
    }
    // "pid (command) state ppid …": the command may hold spaces and parentheses.
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const command = stat.slice(open + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the command.
    const part = partOf(pid, command);
    if (part !== undefined) times.set(pid, { part, user: Number(fields[11]), system: Number(fields[12]) });
  }
  return times;
}
