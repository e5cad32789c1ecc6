// submitit.helpers.monitor_jobs: waits for jobs while showing their progress. On a terminal, one
// bar redrawn in place (pending / running / done / failed, rate, ETA); elsewhere (a log file, CI),
// one line per interval.
import { isFinalState, type Job, type JobState } from '../core/job.js'
import { asCompleted } from './as-completed.js'

export interface MonitorOptions {
  /** where the progress goes (default: process.stderr) */
  stream?: ProgressStream
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
  /** why the pending ones wait, when the scheduler says (Slurm: Resources, Priority...): reason → count */
  pendingReasons?: Record<string, number>
  /** jobs ended per second, counting those that ended while watched (not those done before) */
  rate: number
  /** seconds left at that rate, undefined before a job ends while watched */
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

/** "[######----] 420/1000 jobs done (417 completed, 3 failed), 8 running, 572 pending (Resources), 35/s, ETA 16s" */
export function progressLine(p: Progress, barWidth = 0): string {
  const bar = barWidth > 0 ? `[${'#'.repeat(Math.round((barWidth * p.done) / Math.max(p.total, 1))).padEnd(barWidth, '-')}] ` : ''
  const rate = p.rate < 10 ? p.rate.toFixed(1) : p.rate.toFixed(0)
  const eta = p.done === p.total ? `in ${short(p.elapsedS)}` : `ETA ${p.etaS === undefined ? '?' : short(p.etaS)}`
  const ended = Object.entries(p.ended)
    .map(([s, n]) => `${n} ${s.toLowerCase()}`)
    .join(', ')
  const reasons = Object.entries(p.pendingReasons ?? {}).sort((a, b) => b[1] - a[1])
  const why = reasons.length === 0 ? '' : ` (${reasons.length === 1 ? reasons[0][0] : reasons.map(([r, n]) => `${r}: ${n}`).join(', ')})`
  return `${bar}${p.done}/${p.total} jobs done${ended ? ` (${ended})` : ''}, ${p.running} running, ${p.pending} pending${why}, ${rate}/s, ${eta}`
}

/** Where a progress display writes: a terminal gets the bar redrawn in place, anything else one line per interval. */
export type ProgressStream = { write(s: string): unknown; isTTY?: boolean; columns?: number }

/**
 * A progress display: on a terminal, one bar redrawn in place every `intervalMs` (default 250);
 * elsewhere (a log file, CI, a pipe), a line at the start, one per `intervalMs` (default 10 s) and
 * one at the end. `current` is asked for the figures at each draw.
 */
export class ProgressDisplay {
  readonly tty: boolean
  private readonly timer: NodeJS.Timeout
  private ended = false

  constructor(
    private readonly stream: ProgressStream,
    private readonly current: () => Progress,
    intervalMs?: number,
  ) {
    this.tty = stream.isTTY === true
    const interval = intervalMs ?? (this.tty ? 250 : 10_000)
    this.draw()
    this.timer = setInterval(() => this.draw(), Math.max(interval, 100)) // each draw may look at every unfinished job
    this.timer.unref() // the jobs keep the process alive, not the bar
  }

  draw(): void {
    if (this.ended) return
    if (this.tty) {
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 70))
      this.stream.write(`\r\x1b[K${progressLine(this.current(), width)}`)
    } else {
      this.stream.write(`${progressLine(this.current())}\n`)
    }
  }

  /** The last line; the terminal's cursor goes to the next line. */
  end(): void {
    this.draw()
    this.stop()
  }

  /** Stops drawing (Ctrl-C): on a terminal, the cursor goes to the next line, the bar stays as it was. */
  stop(): void {
    if (this.ended) return
    this.ended = true
    clearInterval(this.timer)
    if (this.tty) this.stream.write('\n')
  }
}

/** Waits for every job, showing progress; resolves with what became of them. */
export async function monitorJobs(jobs: readonly Job<unknown>[], options: MonitorOptions = {}): Promise<MonitorSummary> {
  const stream = options.stream ?? process.stderr
  const t0 = Date.now()
  const states: Partial<Record<JobState, number>> = {}
  const failed: Job<unknown>[] = []
  const open = new Set(jobs)
  // jobs already over when the monitoring starts do not make the rate (nor the ETA) look better
  let before = 0
  for (const job of open) if (isFinalState(job.state)) before++
  let done = 0
  const progress = (): Progress => {
    // pending vs running of the unfinished, as their watchers last saw them (no scheduler call here)
    let running = 0
    const pendingReasons: Record<string, number> = {}
    for (const job of open) {
      if (job.state !== 'PENDING') running++
      else {
        const reason = job.reason
        if (reason) pendingReasons[reason] = (pendingReasons[reason] ?? 0) + 1
      }
    }
    const elapsedS = (Date.now() - t0) / 1000
    const watched = Math.max(0, done - before)
    const rate = watched / Math.max(elapsedS, 1e-3)
    return {
      total: jobs.length,
      done,
      ended: states,
      failed: failed.length,
      running,
      pending: open.size - running,
      pendingReasons,
      rate,
      etaS: watched > 0 ? (jobs.length - done) / rate : undefined,
      elapsedS,
    }
  }
  const display = new ProgressDisplay(stream, progress, options.intervalMs)
  try {
    for await (const job of asCompleted(jobs)) {
      open.delete(job)
      done++
      const s = job.state
      states[s] = (states[s] ?? 0) + 1
      if (s !== 'COMPLETED') failed.push(job)
    }
  } catch (e) {
    display.stop()
    throw e
  }
  display.end()
  if (failed.length > 0) stream.write(failedLine(failed.map((j) => `${j.jobId} (${j.state})`)))
  return { total: jobs.length, states, failed, seconds: (Date.now() - t0) / 1000 }
}

/** "failed: A_3 (FAILED), A_7 (TIMEOUT), …": the first ten. */
export function failedLine(items: readonly string[]): string {
  return `failed: ${items.slice(0, 10).join(', ')}${items.length > 10 ? `, … (${items.length} in all)` : ''}\n`
}
