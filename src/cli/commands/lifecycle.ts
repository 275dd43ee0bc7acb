import type { Logger } from '../../logger.js';

/**
 * A signal this soon after the first is the same Ctrl-C arriving twice: the
 * terminal sends it to the whole process group and `npm run` forwards its own
 * copy to its child. It must not count as the impatient second one.
 */
export const SAME_SIGNAL_MS = 1_000;

/**
 * Runs `shutdown` once on SIGTERM or SIGINT (or the `signals` given) and
 * resolves when it is done. A second signal while shutting down exits at
 * once, for an impatient operator.
 */
export function untilShutdownSignal(
  log: Logger,
  shutdown: (signal: string) => Promise<void>,
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): Promise<void> {
  return new Promise((resolve, reject) => {
    let stoppingSince: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stoppingSince !== undefined) {
        if (Date.now() - stoppingSince < SAME_SIGNAL_MS) return;
        log.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(130);
      }
      stoppingSince = Date.now();
      log.info({ signal }, 'shutting down: no new jobs, finishing active ones');
      shutdown(signal).then(
        () => {
          for (const name of signals) process.off(name, onSignal);
          resolve();
        },
        reject,
      );
    };
    for (const name of signals) process.on(name, onSignal);
  });
}
