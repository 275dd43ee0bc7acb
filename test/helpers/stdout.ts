/** Runs a command in this process (spawning tsx costs seconds each), capturing what it writes on stdout. */
export async function captureStdout(run: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => chunks.push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    const code = await run();
    return { code, stdout: chunks.join('') };
  } finally {
    process.stdout.write = write;
  }
}
