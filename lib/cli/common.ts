// What the commands share: ids given on the command line resolved against a folder (an array id
// stands for all its elements), clear errors, and the formatting of states, times and durations.
import path from 'node:path'
import { attachJob } from '../core/attach.js'
import { elementStates, scanArray, submissionFile, type ArrayScan } from '../core/info.js'
import type { SubmissionRecord } from '../core/format.js'
import type { Job, JobState } from '../core/job.js'
import { makeJobId, parseJobId } from '../core/paths.js'
import { getBackend } from '../core/backends.js'

/** An error the user can fix: printed as it is, exit status `code` (1: not found, 2: bad usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message)
  }
}

export interface Io {
  out: (s: string) => void
  err: (s: string) => void
}

/** One id of the command line: a whole array, or one job. */
export interface Target {
  id: string
  record: SubmissionRecord
  /** the element, or null for a whole array (or a single job given by its id) */
  index: number | null
  /** the whole array was named */
  whole: boolean
}

/** Resolves `id` under `folder`, or throws a CliError saying what is there instead. */
export function resolveId(folder: string, id: string): Target {
  const direct = submissionFile(folder, id)
  if (direct) return { id, record: direct.record, index: null, whole: direct.record.isArray }
  const { arrayId, index } = parseJobId(id)
  const sub = index === null ? undefined : submissionFile(folder, arrayId)
  if (!sub) {
    throw new CliError(`no job or array '${id}' under ${path.resolve(folder)}; \`submitit-ts list '${folder}'\` shows what is there`)
  }
  if (!sub.record.isArray) throw new CliError(`${arrayId} is a single job, not an array: its id is ${arrayId}`)
  const size = sub.record.args.length
  if (index! >= size) {
    throw new CliError(`array ${arrayId} has ${size} job${size === 1 ? '' : 's'} (${arrayId}_0..${arrayId}_${size - 1}): there is no ${id}`)
  }
  return { id, record: sub.record, index, whole: false }
}

/** The jobs a target stands for. */
export function jobsOf(folder: string, target: Target): Job<unknown>[] {
  const { record } = target
  if (!target.whole) return [attachJob(folder, makeJobId(record.arrayId, target.index ?? (record.isArray ? 0 : null)))]
  return record.args.map((_, i) => attachJob(folder, makeJobId(record.arrayId, i)))
}

/** One scheduler call for every unfinished job of the backend attached so far (its registry entry's refresh). */
export async function refreshScheduler(backend: string): Promise<void> {
  await getBackend(backend)?.refresh?.()
}

/** refreshScheduler for this backend, or undefined when it has nothing to ask (local jobs: their files say it all). */
export function refresherOf(backend: string): (() => Promise<void>) | undefined {
  return getBackend(backend)?.refresh ? () => refreshScheduler(backend) : undefined
}

/** A scanned array with every element's state (the scheduler asked once for the unfinished). */
export interface ArrayStatus {
  scan: ArrayScan
  states: JobState[]
  reasons: Map<number, string>
}

export async function arrayStatus(record: SubmissionRecord): Promise<ArrayStatus> {
  const scan = scanArray(record)
  const { states, reasons } = await elementStates(scan, refresherOf(record.backend))
  return { scan, states, reasons }
}

/** Counts of each state, most frequent first: "990 completed, 7 failed, 3 running". */
export function countsText(counts: Partial<Record<JobState, number>>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${n} ${s.toLowerCase()}`)
    .join(', ')
}

export function counts(states: Iterable<JobState>): Partial<Record<JobState, number>> {
  const c: Partial<Record<JobState, number>> = {}
  for (const s of states) c[s] = (c[s] ?? 0) + 1
  return c
}

/** 850ms, 12.3s, 4m05s, 2h03m, 3d04h: as short as squeue's TIME, readable at a glance. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-'
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)}s`
  const pad = (n: number) => String(Math.floor(n)).padStart(2, '0')
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d${pad((s % 86400) / 3600)}h`
}

/** Local time as "2025-01-02 10:00:03" (sacct's style, without the T). */
export function timeText(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '-'
  const d = new Date(ms)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

export function iso(ms: number): string | null {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null
}

/** The task names of a submission: "train", or "train,evaluate". */
export function taskNames(record: SubmissionRecord): string {
  return [...new Set(record.fns.map((f) => f.exportName))].join(',')
}

/** Rows as aligned columns (the last one not padded), like squeue's. */
export function table(rows: string[][]): string[] {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length)
    })
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  )
}
