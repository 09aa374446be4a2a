/**
 * The bench method (DESIGN §10): warm-up, then at least 5 interleaved rounds of ours and
 * the baseline in one process; the median with its min–max.
 */
export interface Figure {
  metric: string;
  value: number;
  min?: number;
  max?: number;
  unit: string;
  note?: string;
  target?: string;
}

export interface CompareOptions {
  /** Rounds of each side, interleaved ours/baseline (≥ 5). */
  rounds?: number;
  /** Untimed runs of each side first. */
  warmup?: number;
}

export interface Comparison {
  ours: number[];
  baseline: number[];
  /** Per-round ours/baseline. */
  ratios: number[];
}

/** Runs `ours` and `baseline` (each returning the time per operation in ms) interleaved. */
export async function compare(ours: () => Promise<number>, baseline: () => Promise<number>, options: CompareOptions = {}): Promise<Comparison> {
  const rounds = Math.max(5, options.rounds ?? 5);
  for (let i = 0; i < (options.warmup ?? 1); i++) {
    await ours();
    await baseline();
  }
  const result: Comparison = { ours: [], baseline: [], ratios: [] };
  for (let i = 0; i < rounds; i++) {
    // alternate which side goes first so drift does not favour one
    let o: number;
    let b: number;
    if (i % 2 === 0) {
      o = await ours();
      b = await baseline();
    } else {
      b = await baseline();
      o = await ours();
    }
    result.ours.push(o);
    result.baseline.push(b);
    result.ratios.push(o / b);
  }
  return result;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A ratio figure from a comparison: median of per-round ratios with its min–max. */
export function ratioFigure(metric: string, c: Comparison, target?: string): Figure {
  return { metric, value: median(c.ratios), min: Math.min(...c.ratios), max: Math.max(...c.ratios), unit: 'ratio', ...(target ? { target } : {}) };
}

/** Times `count` operations run by `concurrency` workers; returns ms per operation. */
export async function timePerOp(count: number, concurrency: number, op: (worker: number, i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (;;) {
        const i = next++;
        if (i >= count) return;
        await op(worker, i);
      }
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e6 / count;
}
