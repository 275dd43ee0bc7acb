/**
 * Polls `check` every `intervalMs` until it gives a value (anything but
 * undefined or false), and returns it; throws naming `what` once `timeoutMs`
 * has passed. The one polling loop of the dev stack, the tests, the
 * benchmarks and the chaos suite.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
