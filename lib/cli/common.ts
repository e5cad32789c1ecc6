// What the commands share: ids given on the command line resolved against a folder (an array id
// stands for all its elements), clear errors, and the formatting of states, times and durations.
import fs from 'node:fs'
import path from 'node:path'
import { attachJob } from '../core/attach.js'
import { getBackend } from '../core/backends.js'
import { closestName } from '../core/errors.js'
import { readSubmission, type SubmissionRecord } from '../core/format.js'
import { arrayStates, findSubmissions, submissionFile, type ArrayStates } from '../core/info.js'
import type { Job, JobState } from '../core/job.js'
import { EXT, makeJobId, parseJobId } from '../core/paths.js'

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

/**
 * The folder template of the command line's folder: a template ('logs/%j') as it is; a plain path
 * as it is, or, when it holds no submission itself but an executor's 'path/%j' folders do, as
 * 'path/%j' (what a user types after seeing logs/ fill up). A folder that is not there is an error.
 */
export function folderTemplate(folder: string): string {
  const abs = path.resolve(folder)
  const root = staticPart(abs)
  if (!fs.existsSync(root)) throw new CliError(`${root}: no such folder (give the executor's folder, e.g. 'logs/%j')`)
  if (folder.includes('%')) return folder
  const names = readdir(abs)
  if (names.some((n) => n.endsWith(`_submitted.${EXT}`))) return folder
  for (const name of names) {
    if (/_\d+$/.test(name)) continue // an element's own folder
    if (fs.existsSync(path.join(abs, name, `${name}_submitted.${EXT}`))) return path.join(folder, '%j')
  }
  return folder
}

/** The leading part of a template without ids ('/x/logs' of '/x/logs/%j/out'): where Slurm's own logs go. */
export function staticPart(template: string): string {
  const parts = template.split(path.sep)
  const kept: string[] = []
  for (const part of parts) {
    if (/%[jAat]/.test(part.replace(/%%/g, ''))) break
    kept.push(part)
  }
  return kept.join(path.sep).replace(/%%/g, '%') || path.sep
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

/** A submission file read for the command line: a damaged or foreign one says so, naming the file. */
export function readRecord(file: string): SubmissionRecord {
  try {
    return readSubmission(file)
  } catch (e) {
    throw new CliError((e as Error).message)
  }
}

/** Resolves `id` under `folder`, or throws a CliError saying what is there instead (and the nearest id). */
export function resolveId(folder: string, id: string): Target {
  if (id === '' || /[/\\\s]/.test(id)) throw new CliError(`'${id}' is not a job id (ids look like A_3, or A for a whole array or a single job)`, 2)
  const direct = submissionFile(folder, id)
  if (direct) {
    const record = readRecord(direct)
    return { id, record, index: null, whole: record.isArray }
  }
  const m = /^(.+)_([^_]*)$/.exec(id)
  const sub = m ? submissionFile(folder, m[1]) : undefined
  if (!sub) {
    const near = closestName(
      m && !/^\d+$/.test(m[2]) ? id : parseJobId(id).arrayId,
      findSubmissions(folder).map((s) => s.arrayId),
    )
    const index = parseJobId(id).index
    const hint = near ? `; did you mean ${near}${index === null || /^\d+$/.test(near) ? '' : `_${index}`}?` : ''
    throw new CliError(`no job or array '${id}' under ${path.resolve(folder)}${hint} (\`submitit-ts list '${folder}'\` shows what is there)`)
  }
  const [, arrayId, text] = m!
  const record = readRecord(sub)
  if (!record.isArray) throw new CliError(`${arrayId} is a single job, not an array: its id is ${arrayId}`)
  const size = record.args.length
  const range = `${arrayId}_0..${arrayId}_${size - 1}`
  if (!/^\d+$/.test(text)) throw new CliError(`'${text}' is not an index of array ${arrayId}: its jobs are ${range}`)
  const index = Number(text)
  if (index >= size) throw new CliError(`array ${arrayId} has ${size} job${size === 1 ? '' : 's'} (${range}): there is no ${id}`)
  return { id, record, index, whole: false }
}

/** The jobs a target stands for. */
export function jobsOf(folder: string, target: Target): Job<unknown>[] {
  const { record } = target
  if (!target.whole) return [attachJob(folder, makeJobId(record.arrayId, target.index ?? (record.isArray ? 0 : null)))]
  return record.args.map((_, i) => attachJob(folder, makeJobId(record.arrayId, i)))
}

/** The id of element i of a target's array (the job's own id for a single job). */
export function elementId(record: SubmissionRecord, i: number): string {
  return makeJobId(record.arrayId, record.isArray ? i : null)
}

/** One scheduler call for every unfinished job of the backend attached so far (its registry entry's refresh). */
export async function refreshScheduler(backend: string): Promise<void> {
  await getBackend(backend)?.refresh?.()
}

/** Whether the backend's jobs run in the process that submits them (local, debug: no scheduler, no watcher of their own). */
export function runsInSubmitter(backend: string): boolean {
  return getBackend(backend)?.attach === undefined
}

/** refreshScheduler for this backend, or undefined when it has nothing to ask (local jobs: their files say it all). */
export function refresherOf(backend: string): (() => Promise<void>) | undefined {
  return getBackend(backend)?.refresh ? () => refreshScheduler(backend) : undefined
}

/** A scanned array with every element's state (the scheduler asked once for the unfinished). */
export type ArrayStatus = ArrayStates

/** Every element's state, read from `folder` (the command line's: the files are there, wherever the record says it was made). */
export async function arrayStatus(record: SubmissionRecord, folder: string, options: { values?: boolean } = {}): Promise<ArrayStatus> {
  return arrayStates(record, { folder, refresh: refresherOf(record.backend), values: options.values })
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
