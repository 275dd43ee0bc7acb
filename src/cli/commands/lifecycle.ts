import type { Logger } from '../../logger.js';

/**
 * Runs `shutdown` once on SIGTERM or SIGINT and resolves when it is done. A
 * second signal while shutting down exits at once, for an impatient operator.
 */
export function untilShutdownSignal(log: Logger, shutdown: (signal: string) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(130);
      }
      stopping = true;
      log.info({ signal }, 'shutting down: no new jobs, finishing active ones');
      shutdown(signal).then(
        () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve();
        },
        reject,
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
