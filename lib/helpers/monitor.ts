// submitit.helpers.monitor_jobs: waits for jobs while printing how many are in each state, on one
// line that rewrites itself on a terminal (one line per change elsewhere, e.g. in a CI log).
import type { Job, JobState } from '../core/job.js'
import { asCompleted } from './as-completed.js'

export interface MonitorOptions {
  /** where the progress goes (default: process.stderr) */
  stream?: NodeJS.WritableStream & { isTTY?: boolean }
  /** at most one line per this many milliseconds when not on a terminal (default 1000) */
  intervalMs?: number
}

export interface MonitorSummary {
  total: number
  /** how many jobs ended in each state */
  states: Partial<Record<JobState, number>>
  failed: Job<unknown>[]
  seconds: number
}

/** Waits for every job, showing progress; resolves with what became of them. */
export async function monitorJobs(jobs: readonly Job<unknown>[], options: MonitorOptions = {}): Promise<MonitorSummary> {
  const stream = options.stream ?? process.stderr
  const tty = stream.isTTY === true
  const t0 = Date.now()
  const states: Partial<Record<JobState, number>> = {}
  const failed: Job<unknown>[] = []
  let done = 0
  let last = 0
  const line = () => {
    const parts = Object.entries(states).map(([s, n]) => `${n} ${s.toLowerCase()}`)
    const rate = done / Math.max((Date.now() - t0) / 1000, 1e-3)
    return `${done}/${jobs.length} jobs done${parts.length ? ` (${parts.join(', ')})` : ''}, ${rate.toFixed(rate < 10 ? 1 : 0)}/s, ${((Date.now() - t0) / 1000).toFixed(1)} s`
  }
  for await (const job of asCompleted(jobs)) {
    done++
    const s = job.state
    states[s] = (states[s] ?? 0) + 1
    if (s !== 'COMPLETED') failed.push(job)
    const now = Date.now()
    if (done === jobs.length || (tty ? now - last > 50 : now - last > (options.intervalMs ?? 1000))) {
      stream.write(tty ? `\r\x1b[K${line()}` : `${line()}\n`)
      last = now
    }
  }
  if (tty) stream.write('\n')
  if (failed.length > 0) {
    stream.write(`failed: ${failed.slice(0, 10).map((j) => `${j.jobId} (${j.state})`).join(', ')}${failed.length > 10 ? ', …' : ''}\n`)
  }
  return { total: jobs.length, states, failed, seconds: (Date.now() - t0) / 1000 }
}
