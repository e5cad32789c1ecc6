// What the HTML report of an array shows, gathered from its files: every job's state, start, end and
// where it ran (as timeline bars, merged at the page's resolution past MAX_BARS jobs: a 100k-job
// array makes a page of a few hundred kB that a browser draws at once), the duration histogram, the
// failed jobs with their errors and log tails, the slowest ones.
import path from 'node:path'
import { inspect } from 'node:util'
import { attachJob } from '../core/attach.js'
import { arrayStates } from '../core/info.js'
import type { SubmissionRecord } from '../core/format.js'
import { isFinalState } from '../core/job.js'
import { makeJobId } from '../core/paths.js'

/** One bar of the timeline: a job, or (downsampled) consecutive jobs of one lane and state. */
export interface ReportBar {
  lane: number
  start: number
  end: number
  state: string
  /** the job's id; null for a bar that stands for several jobs */
  jobId: string | null
  /** how many jobs it stands for */
  count: number
}

export interface ReportDetail {
  jobId: string
  state: string
  durationMs: number | null
  where: string | null
  error: string | null
  stdoutTail: string | null
  stderrTail: string | null
}

export interface ReportData {
  arrayId: string
  task: string
  backend: string
  folder: string
  generatedAt: number
  /** how many jobs, and how many in each state */
  total: number
  counts: Record<string, number>
  timeline: {
    /** the first start and the last end (ms since the epoch) */
    t0: number
    t1: number
    /** worker threads or nodes, in order */
    lanes: string[]
    bars: ReportBar[]
    /** how many jobs have a start and an end */
    timed: number
    /** bars stand for several jobs each (more than MAX_BARS jobs) */
    merged: boolean
  } | null
  /** jobs that ended without timings (stopped or killed before they could record them) */
  untimed: number
  histogram: { lo: number; hi: number; counts: number[] } | null
  failed: ReportDetail[]
  failedCount: number
  slowest: ReportDetail[]
}

/** The last `lines` lines of a log, or null. */
function tail(text: string | null, lines = 15): string | null {
  if (!text) return null
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

const MAX_FAILED = 50
const SLOWEST = 10
/** Past this many timed jobs, bars are merged to the timeline's resolution */
export const MAX_BARS = 5000
/** The timeline's width in pixels: bars closer than a pixel look as one */
export const TIMELINE_WIDTH = 1000
const BINS = 20

export async function reportData(record: SubmissionRecord, options: { folder?: string; refresh?: () => Promise<void> } = {}): Promise<ReportData> {
  const folder = options.folder ?? record.folder
  const { scan, states } = await arrayStates(record, { folder, refresh: options.refresh })
  const idOf = (i: number) => makeJobId(record.arrayId, record.isArray ? i : null)
  const counts: Record<string, number> = {}
  for (const s of states) counts[s] = (counts[s] ?? 0) + 1
  // the timed jobs, by lane
  const laneOf = new Map<string, number>()
  const timedIdx: number[] = []
  let t0 = Infinity
  let t1 = -Infinity
  let untimed = 0
  for (let i = 0; i < scan.size; i++) {
    const start = scan.startedAt[i]
    const end = scan.endedAt[i]
    if (Number.isNaN(start) || Number.isNaN(end)) {
      if (isFinalState(states[i])) untimed++
      continue
    }
    timedIdx.push(i)
    if (start < t0) t0 = start
    if (end > t1) t1 = end
    const where = scan.where[i] ?? '?'
    if (!laneOf.has(where)) laneOf.set(where, 0)
  }
  const lanes = [...laneOf.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
  lanes.forEach((name, k) => laneOf.set(name, k))
  let timeline: ReportData['timeline'] = null
  if (timedIdx.length > 0) {
    const merged = timedIdx.length > MAX_BARS
    const bars: ReportBar[] = []
    if (!merged) {
      for (const i of timedIdx) {
        bars.push({ lane: laneOf.get(scan.where[i] ?? '?')!, start: scan.startedAt[i], end: scan.endedAt[i], state: states[i], jobId: idOf(i), count: 1 })
      }
    } else {
      // per lane, in start order: a job joins the bar before it when it has the same state and starts within a pixel of its end
      const pixel = Math.max(t1 - t0, 1) / TIMELINE_WIDTH
      const byLane: number[][] = lanes.map(() => [])
      for (const i of timedIdx) byLane[laneOf.get(scan.where[i] ?? '?')!].push(i)
      byLane.forEach((jobs, lane) => {
        jobs.sort((a, b) => scan.startedAt[a] - scan.startedAt[b])
        let bar: ReportBar | undefined
        for (const i of jobs) {
          const start = scan.startedAt[i]
          const end = scan.endedAt[i]
          if (bar && bar.state === states[i] && start <= bar.end + pixel) {
            bar.end = Math.max(bar.end, end)
            bar.count++
            bar.jobId = null
          } else {
            bar = { lane, start, end, state: states[i], jobId: idOf(i), count: 1 }
            bars.push(bar)
          }
        }
      })
    }
    timeline = { t0, t1, lanes, bars, timed: timedIdx.length, merged }
  }
  let histogram: ReportData['histogram'] = null
  if (timedIdx.length > 0) {
    let lo = Infinity
    let hi = -Infinity
    for (const i of timedIdx) {
      const d = scan.endedAt[i] - scan.startedAt[i]
      if (d < lo) lo = d
      if (d > hi) hi = d
    }
    const bins = new Array<number>(BINS).fill(0)
    for (const i of timedIdx) bins[Math.min(BINS - 1, Math.floor(((scan.endedAt[i] - scan.startedAt[i] - lo) / Math.max(hi - lo, 1e-9)) * BINS))]++
    histogram = { lo, hi, counts: bins }
  }
  const detail = async (i: number, withError: boolean): Promise<ReportDetail> => {
    const jobId = idOf(i)
    const job = attachJob(folder, jobId)
    let error: string | null = null
    if (withError) {
      const e = await job.exception().catch((e: unknown) => e)
      error = e === null ? null : e instanceof Error ? e.message : inspect(e)
    }
    const start = scan.startedAt[i]
    return {
      jobId,
      state: states[i],
      durationMs: Number.isNaN(start) ? null : scan.endedAt[i] - start,
      where: scan.where[i] ?? null,
      error,
      stdoutTail: tail(job.stdout()),
      stderrTail: tail(job.stderr()),
    }
  }
  const failedIdx: number[] = []
  for (let i = 0; i < scan.size; i++) if (states[i] !== 'COMPLETED' && isFinalState(states[i])) failedIdx.push(i)
  const failed = await Promise.all(failedIdx.slice(0, MAX_FAILED).map((i) => detail(i, true)))
  const slowestIdx = [...timedIdx].sort((a, b) => scan.endedAt[b] - scan.startedAt[b] - (scan.endedAt[a] - scan.startedAt[a])).slice(0, SLOWEST)
  const slowest = await Promise.all(slowestIdx.map((i) => detail(i, false)))
  return {
    arrayId: record.arrayId,
    task: [...new Set(record.fns.map((f) => f.exportName))].join(','),
    backend: record.backend,
    folder: path.resolve(folder),
    generatedAt: Date.now(),
    total: scan.size,
    counts,
    timeline,
    untimed,
    histogram,
    failed,
    failedCount: failedIdx.length,
    slowest,
  }
}
