// submitit.helpers.monitor_jobs: waits for jobs while showing their progress. On a terminal, one
// bar redrawn in place (pending / running / done / failed, rate, ETA); elsewhere (a log file, CI),
// one line per interval.
import type { Job, JobState } from '../core/job.js'
import { asCompleted } from './as-completed.js'

export interface MonitorOptions {
  /** where the progress goes (default: process.stderr) */
  stream?: { write(s: string): unknown; isTTY?: boolean; columns?: number }
  /** one line per this many milliseconds when not on a terminal (default 10,000); the bar's redraw on one (default 250) */
  intervalMs?: number
}

export interface MonitorSummary {
  total: number
  /** how many jobs ended in each state */
  states: Partial<Record<JobState, number>>
  failed: Job<unknown>[]
  seconds: number
}

/** What a progress line shows. */
export interface Progress {
  total: number
  done: number
  /** how many ended in each state */
  ended: Partial<Record<JobState, number>>
  failed: number
  running: number
  pending: number
  /** jobs ended per second since the start */
  rate: number
  /** seconds left at that rate, undefined before the first job ends */
  etaS: number | undefined
  elapsedS: number
}

/** 42s, 3m05s, 1h02m: short, as an ETA wants. */
function short(s: number): string {
  if (!Number.isFinite(s)) return '?'
  if (s < 60) return `${Math.round(s)}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** "[######----] 420/1000 jobs done (417 completed, 3 failed), 8 running, 572 pending, 35/s, ETA 16s" */
export function progressLine(p: Progress, barWidth = 0): string {
  const bar = barWidth > 0 ? `[${'#'.repeat(Math.round((barWidth * p.done) / Math.max(p.total, 1))).padEnd(barWidth, '-')}] ` : ''
  const rate = p.rate < 10 ? p.rate.toFixed(1) : p.rate.toFixed(0)
  const eta = p.done === p.total ? `in ${short(p.elapsedS)}` : `ETA ${p.etaS === undefined ? '?' : short(p.etaS)}`
  const ended = Object.entries(p.ended)
    .map(([s, n]) => `${n} ${s.toLowerCase()}`)
    .join(', ')
  return `${bar}${p.done}/${p.total} jobs done${ended ? ` (${ended})` : ''}, ${p.running} running, ${p.pending} pending, ${rate}/s, ${eta}`
}

/** Waits for every job, showing progress; resolves with what became of them. */
export async function monitorJobs(jobs: readonly Job<unknown>[], options: MonitorOptions = {}): Promise<MonitorSummary> {
  const stream = options.stream ?? process.stderr
  const tty = stream.isTTY === true
  const interval = options.intervalMs ?? (tty ? 250 : 10_000)
  const t0 = Date.now()
  const states: Partial<Record<JobState, number>> = {}
  const failed: Job<unknown>[] = []
  const open = new Set(jobs)
  let done = 0
  const progress = (): Progress => {
    // pending vs running of the unfinished, as their watchers last saw them (no scheduler call here)
    let running = 0
    for (const job of open) if (job.state !== 'PENDING') running++
    const elapsedS = (Date.now() - t0) / 1000
    const rate = done / Math.max(elapsedS, 1e-3)
    return {
      total: jobs.length,
      done,
      ended: states,
      failed: failed.length,
      running,
      pending: open.size - running,
      rate,
      etaS: done > 0 ? (jobs.length - done) / rate : undefined,
      elapsedS,
    }
  }
  const draw = () => {
    if (tty) {
      const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - 70))
      stream.write(`\r\x1b[K${progressLine(progress(), width)}`)
    } else {
      stream.write(`${progressLine(progress())}\n`)
    }
  }
  if (tty) draw()
  const timer = setInterval(draw, Math.max(interval, 100)) // each draw looks at every unfinished job
  timer.unref() // the jobs keep the process alive, not the bar
  try {
    for await (const job of asCompleted(jobs)) {
      open.delete(job)
      done++
      const s = job.state
      states[s] = (states[s] ?? 0) + 1
      if (s !== 'COMPLETED') failed.push(job)
    }
  } finally {
    clearInterval(timer)
  }
  draw()
  if (tty) stream.write('\n')
  if (failed.length > 0) {
    stream.write(
      `failed: ${failed
        .slice(0, 10)
        .map((j) => `${j.jobId} (${j.state})`)
        .join(', ')}${failed.length > 10 ? ', …' : ''}\n`,
    )
  }
  return { total: jobs.length, states, failed, seconds: (Date.now() - t0) / 1000 }
}
