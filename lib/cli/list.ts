// submitit-ts list <folder>: every array and job under a folder, newest first, no ids needed.
import { findSubmissions } from '../core/info.js'
import { readSubmission, type SubmissionRecord } from '../core/format.js'
import { readReruns } from '../core/rerun.js'
import { arrayStatus, counts, countsText, duration, iso, table, taskNames, timeText, type Io } from './common.js'

export interface ListEntry {
  arrayId: string
  isArray: boolean
  jobs: number
  counts: Record<string, number>
  task: string
  backend: string
  submittedAt: string | null
  startedAt: string | null
  endedAt: string | null
  /** from the first start to the last end, in ms, when known */
  elapsedMs: number | null
  /** the arrays its failed jobs were rerun as */
  rerunAs: string[]
  file: string
}

export async function listEntries(folder: string, limit = Infinity): Promise<ListEntry[]> {
  const entries: ListEntry[] = []
  for (const sub of findSubmissions(folder).slice(0, limit)) {
    let record: SubmissionRecord
    try {
      record = readSubmission(sub.file)
    } catch {
      continue // being written, or of another version: `status` says which
    }
    const { scan, states } = await arrayStatus(record)
    let first = Infinity
    let last = -Infinity
    for (let i = 0; i < scan.size; i++) {
      if (scan.startedAt[i] < first) first = scan.startedAt[i]
      if (scan.endedAt[i] > last) last = scan.endedAt[i]
    }
    entries.push({
      arrayId: record.arrayId,
      isArray: record.isArray,
      jobs: scan.size,
      counts: counts(states) as Record<string, number>,
      task: taskNames(record),
      backend: record.backend,
      submittedAt: iso(sub.submittedAt),
      startedAt: iso(first),
      endedAt: iso(last),
      elapsedMs: Number.isFinite(first) && Number.isFinite(last) ? last - first : null,
      rerunAs: [...new Set(readReruns(record)?.reruns.map((r) => r.arrayId) ?? [])],
      file: sub.file,
    })
  }
  return entries
}

export async function list(folder: string, options: { json?: boolean; limit?: number }, io: Io): Promise<number> {
  const entries = await listEntries(folder, options.limit)
  if (options.json) {
    io.out(JSON.stringify({ folder, arrays: entries }, null, 2))
    return 0
  }
  if (entries.length === 0) {
    io.err(`no jobs under ${folder} (give the executor's folder, e.g. 'logs/%j')`)
    return 0
  }
  const rows = [['ID', 'JOBS', 'STATES', 'TASK', 'SUBMITTED', 'BACKEND', 'ELAPSED', 'RERUN']]
  for (const e of entries) {
    rows.push([
      e.arrayId,
      String(e.jobs),
      countsText(e.counts),
      e.task,
      timeText(Date.parse(e.submittedAt ?? '')),
      e.backend,
      e.elapsedMs === null ? '-' : duration(e.elapsedMs),
      e.rerunAs.length ? `→ ${e.rerunAs.join(', ')}` : '',
    ])
  }
  for (const line of table(rows)) io.out(line)
  return 0
}
