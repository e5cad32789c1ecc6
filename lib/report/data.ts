// What the HTML report of an array shows, gathered from its files: every job's state, start, end and
// where it ran; the failed jobs with their errors and log tails; the slowest ones.
import { inspect } from 'node:util'
import { attachJob } from '../core/attach.js'
import { elementStates, scanArray } from '../core/info.js'
import type { SubmissionRecord } from '../core/format.js'
import { makeJobId } from '../core/paths.js'

export interface ReportJob {
  jobId: string
  state: string
  /** ms since the epoch, null when unknown */
  start: number | null
  end: number | null
  where: string | null
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
  jobs: ReportJob[]
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

export async function reportData(record: SubmissionRecord, refresh?: () => Promise<void>): Promise<ReportData> {
  const scan = scanArray(record)
  const { states } = await elementStates(scan, refresh)
  const jobs: ReportJob[] = []
  for (let i = 0; i < scan.size; i++) {
    jobs.push({
      jobId: makeJobId(record.arrayId, record.isArray ? i : null),
      state: states[i],
      start: Number.isNaN(scan.startedAt[i]) ? null : scan.startedAt[i],
      end: Number.isNaN(scan.endedAt[i]) ? null : scan.endedAt[i],
      where: scan.where[i] ?? null,
    })
  }
  const detail = async (i: number, withError: boolean): Promise<ReportDetail> => {
    const j = jobs[i]
    const job = attachJob(record.folder, j.jobId)
    let error: string | null = null
    if (withError) {
      const e = await job.exception()
      error = e ? e.message : null
      if (e === null) error = null
      else if (!(e instanceof Error)) error = inspect(e)
    }
    return {
      jobId: j.jobId,
      state: j.state,
      durationMs: j.start === null || j.end === null ? null : j.end - j.start,
      where: j.where,
      error,
      stdoutTail: tail(job.stdout()),
      stderrTail: tail(job.stderr()),
    }
  }
  const failedIdx = jobs.map((j, i) => (j.state !== 'COMPLETED' && isEnded(j.state) ? i : -1)).filter((i) => i >= 0)
  const failed = await Promise.all(failedIdx.slice(0, MAX_FAILED).map((i) => detail(i, true)))
  const timed = jobs.map((j, i) => ({ i, d: j.start === null || j.end === null ? -1 : j.end - j.start })).filter((x) => x.d >= 0)
  timed.sort((a, b) => b.d - a.d)
  const slowest = await Promise.all(timed.slice(0, SLOWEST).map((x) => detail(x.i, false)))
  return {
    arrayId: record.arrayId,
    task: [...new Set(record.fns.map((f) => f.exportName))].join(','),
    backend: record.backend,
    folder: record.folder,
    generatedAt: Date.now(),
    jobs,
    failed,
    failedCount: failedIdx.length,
    slowest,
  }
}

function isEnded(state: string): boolean {
  return !['PENDING', 'RUNNING', 'COMPLETING', 'REQUEUED', 'SUSPENDED', 'PREEMPTED', 'UNKNOWN'].includes(state)
}
