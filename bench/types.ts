/** One measured figure of a benchmark, compared with the limit the issue names. */
export interface BenchResult {
  /** What was measured, e.g. "campaign planning, 1M users". */
  name: string;
  /** The measured figure with its unit, e.g. "12.3 s" or "4,210 msg/s". */
  figure: string;
  /** The limit it is judged against, measured in the same run, e.g. "1.5 × raw INSERT … SELECT (8.1 s)". */
  limit: string;
  /** figure / limit, oriented so that ratio ≤ 1 passes for time limits (say so in `limit` otherwise). */
  ratio: number;
  pass: boolean;
  notes?: string;
}

/** A benchmark module: bench/<name>.ts exports `run`. */
export interface BenchModule {
  run(): Promise<BenchResult[]>;
}
