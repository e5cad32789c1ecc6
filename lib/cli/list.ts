// submitit-ts list <folder>: every array and job under a folder, newest first, no ids needed. One
// listing pass per array (lib/core/info.ts scanArray), one decode of each submission.
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
  /** the arrays its jobs were rerun as */
  rerunAs: string[]
  /** the array its jobs are reruns of, if they are */
  rerunOf: string | null
  file: string
}

/** A submission file that cannot be read (damaged, another format version): listed apart, with why. */
export interface Unreadable {
  arrayId: string
  file: string
  error: string
}

export async function listEntries(folder: string, limit = Infinity): Promise<{ entries: ListEntry[]; unreadable: Unreadable[] }> {
  const entries: ListEntry[] = []
  const unreadable: Unreadable[] = []
  for (const sub of findSubmissions(folder)) {
    if (entries.length >= limit) break
    let record: SubmissionRecord
    try {
      record = readSubmission(sub.file)
    } catch (e) {
      unreadable.push({ arrayId: sub.arrayId, file: sub.file, error: (e as Error).message })
      continue
    }
    const { scan, states } = await arrayStatus(record, folder)
    let first = Infinity
    let last = -Infinity
    for (let i = 0; i < scan.size; i++) {
      if (scan.startedAt[i] < first) first = scan.startedAt[i]
      if (scan.endedAt[i] > last) last = scan.endedAt[i]
    }
    const links = readReruns(record, folder)
    entries.push({
      arrayId: record.arrayId,
      isArray: record.isArray,
      jobs: scan.size,
      counts: counts(states) as Record<string, number>,
      task: taskNames(record),
      backend: record.backend,
      submittedAt: iso(record.owner?.at ?? sub.submittedAt), // recorded at submission (a copied folder's files are younger)
      startedAt: iso(first),
      endedAt: iso(last),
      elapsedMs: Number.isFinite(first) && Number.isFinite(last) ? last - first : null,
      rerunAs: [...new Set(links?.reruns.map((r) => r.arrayId) ?? [])],
      rerunOf: links?.rerunOf?.arrayId ?? null,
      file: sub.file,
    })
  }
  return { entries, unreadable }
}

export async function list(folder: string, options: { json?: boolean; limit?: number }, io: Io): Promise<number> {
  const { entries, unreadable } = await listEntries(folder, options.limit)
  for (const u of unreadable) io.err(`skipped ${u.file}: ${u.error}`)
  if (options.json) {
    io.out(JSON.stringify({ folder, arrays: entries, unreadable }, null, 2))
    return 0
  }
  if (entries.length === 0) {
    io.err(`no jobs under ${folder} (give the executor's folder, e.g. 'logs/%j')`)
    return 0
  }
  const rows = [['ID', 'JOBS', 'STATES', 'TASK', 'SUBMITTED', 'BACKEND', 'ELAPSED', 'RERUN']]
  for (const e of entries) {
    const rerun = [...(e.rerunOf ? [`← ${e.rerunOf}`] : []), ...(e.rerunAs.length ? [`→ ${e.rerunAs.join(', ')}`] : [])]
    rows.push([
      e.arrayId,
      String(e.jobs),
      countsText(e.counts),
      e.task,
      timeText(Date.parse(e.submittedAt ?? '')),
      e.backend,
      e.elapsedMs === null ? '-' : duration(e.elapsedMs),
      rerun.join(' '),
    ])
  }
  for (const line of table(rows)) io.out(line)
  return 0
}
