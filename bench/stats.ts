// Medians and spreads of repeated measurements, and the helpers every bench part shares.
import { pathToFileURL } from 'node:url'
import type { Target } from './run.js'

/** A figure measured over several rounds: its median and how far the rounds spread around it. */
export interface Stat {
  median: number
  min: number
  max: number
  /** half the range over the median, as a fraction (0.05 = ±5 %); 0 with one sample */
  spread: number
  n: number
  samples: number[]
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** The q-quantile (0..1) by linear interpolation. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
}

export function stat(samples: readonly number[]): Stat {
  const xs = samples.filter((x) => Number.isFinite(x))
  const med = median(xs)
  const min = Math.min(...xs)
  const max = Math.max(...xs)
  return { median: med, min, max, spread: xs.length > 1 && med !== 0 ? (max - min) / 2 / Math.abs(med) : 0, n: xs.length, samples: xs }
}

/** "1.23 k" style numbers with 3 significant digits. */
export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a >= 1e9) return `${(x / 1e9).toPrecision(3)} G`
  if (a >= 1e6) return `${(x / 1e6).toPrecision(3)} M`
  if (a >= 1e4) return `${(x / 1e3).toPrecision(3)} k`
  if (a >= 100) return x.toFixed(0)
  if (a >= 1) return x.toPrecision(3)
  if (a === 0) return '0'
  return x.toPrecision(2)
}

export function fmtBytes(b: number): string {
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toPrecision(3)} MiB`
  if (b >= 2 ** 10) return `${(b / 2 ** 10).toPrecision(3)} KiB`
  return `${b} B`
}

/** Time in ms, printed in the unit that reads best. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms >= 1000) return `${(ms / 1000).toPrecision(3)} s`
  if (ms >= 1) return `${ms.toPrecision(3)} ms`
  if (ms >= 0.001) return `${(ms * 1000).toPrecision(3)} µs`
  return `${(ms * 1e6).toPrecision(3)} ns`
}

export function fmtStat(s: Stat, fmt: (x: number) => string = fmtNum): string {
  if (s.n === 0) return 'n/a'
  return s.n > 1 ? `${fmt(s.median)} ±${(s.spread * 100).toFixed(0)}%` : fmt(s.median)
}

export function fmtRatio(s: Stat): string {
  if (s.n === 0) return 'n/a'
  const r = s.median >= 10 ? s.median.toFixed(0) : s.median.toFixed(2)
  return s.n > 1 ? `${r}× [${s.min.toFixed(2)}–${s.max.toFixed(2)}]` : `${r}×`
}

/** Prints rows as an aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** Sleeps without keeping the process alive for nothing. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Runs `fn` repeatedly for about `budgetMs` (at least `minIters` times); returns ms per call. */
export function timeLoop(fn: () => unknown, budgetMs: number, minIters = 3): number {
  // find an iteration count that takes ~budget/5, then time five batches and keep the fastest median
  let iters = 1
  for (;;) {
    const t0 = performance.now()
    for (let i = 0; i < iters; i++) fn()
    const dt = performance.now() - t0
    if (dt >= budgetMs / 5 || iters >= 1e7) break
    iters = Math.max(iters * 2, Math.ceil((iters * budgetMs) / 5 / Math.max(dt, 0.01)))
  }
  iters = Math.max(iters, minIters)
  const per: number[] = []
  for (let b = 0; b < 5; b++) {
    const t0 = performance.now()
    for (let i = 0; i < iters; i++) fn()
    per.push((performance.now() - t0) / iters)
  }
  return median(per)
}

/**
 * A bench part's child process (run.ts runs each measurement in a fresh one): when `moduleUrl` is the
 * script run, measures the spec given as argv[2] and prints its `BENCH_RESULT <json>` line. With
 * `exit`, the process exits at once after (pools and watchers left open need not close first).
 */
export function benchChild<S, R>(moduleUrl: string, measure: (spec: S) => R | Promise<R>, exit = true): void {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? '').href) return
  Promise.resolve()
    .then(() => measure(JSON.parse(process.argv[2]) as S))
    .then(
      (r) => {
        process.stdout.write(`BENCH_RESULT ${JSON.stringify(r)}\n`)
        if (exit) process.exit(0)
      },
      (e: Error) => {
        console.error(e?.stack ?? e)
        if (exit) process.exit(1)
        process.exitCode = 1
      },
    )
}

/** What run.ts gives a bench part: its size, how to run a measurement in a child, where targets go. */
export interface PartOptions {
  smoke: boolean
  rounds: number
  threads: number
  dir: string
  child: <T>(script: string, spec: unknown, timeoutMs?: number) => Promise<T>
  progress: (msg: string) => void
  targets: Target[]
}

/** Runs `script`'s child once per round with `spec`; the results of the rounds that ran, and the errors of the others. */
export async function eachRound<T>(o: PartOptions, part: string, script: string, spec: unknown): Promise<{ results: T[]; errors: string[] }> {
  const results: T[] = []
  const errors: string[] = []
  for (let r = 0; r < o.rounds; r++) {
    o.progress(`${part}: round ${r + 1}/${o.rounds}`)
    try {
      results.push(await o.child<T>(script, spec, 300_000))
    } catch (e) {
      errors.push((e as Error).message)
    }
  }
  o.progress('')
  return { results, errors }
}
