// What the files of a folder say about its jobs, read in bulk: the submissions under a folder
// template (one listing pass per folder level), and per array the state and timings of every
// element from its result records (chunk files read once each, no Job object per finished element).
// The CLI (list, status, report, clean), rerun() and jobInfo() are built on it.
import fs from 'node:fs'
import path from 'node:path'
import { attachJob, liveState, unfinishedState } from './attach.js'
import { FINAL_STATES, readResult, worstState, type FinalState, type ResultRecord, type SubmissionRecord } from './format.js'
import { getBackend } from './backends.js'
import { isFinalState, resultRecordOf, type Job, type JobState } from './job.js'
import { arrayFolder, EXT, makeJobId, parseJobId, resolveFolder, submittedPath, type FolderVars } from './paths.js'

/** An element has no outcome on disk yet (in ArrayScan.states). */
export const NO_OUTCOME = 255

/** Where and when one task of a job ran, from its result record. */
export interface TaskTiming {
  rank: number
  state?: FinalState
  /** ms since the epoch */
  startedAt?: number
  endedAt?: number
  /** the host (a Slurm node) and the worker thread's id there */
  host?: string
  thread?: number
}

/** A job's state with its timings: `jobInfo(job)`. Times are ms since the epoch. */
export interface JobInfo {
  jobId: string
  state: JobState
  reason?: string
  /** the earliest start and latest end of its tasks, once known */
  startedAt?: number
  endedAt?: number
  durationMs?: number
  host?: string
  thread?: number
  tasks: TaskTiming[]
}

/** The state of a job with where and when each of its tasks ran (as far as its result files say). */
export function jobInfo(job: Job<unknown>): JobInfo {
  const info: JobInfo = { jobId: job.jobId, state: job.state, tasks: [] }
  const reason = job.reason
  if (reason) info.reason = reason
  for (let t = 0; t < job.numTasks; t++) {
    const timing: TaskTiming = { rank: t }
    const found = resultRecordOf(job.paths, t, job.nonce)
    if (found) {
      const { record, k } = found
      timing.state = FINAL_STATES[record.states[k]]
      if (record.startedAt && record.endedAt) {
        timing.startedAt = record.startedAt[k]
        timing.endedAt = record.endedAt[k]
        timing.host = record.host
        timing.thread = record.thread
        info.startedAt = Math.min(info.startedAt ?? Infinity, timing.startedAt)
        info.endedAt = Math.max(info.endedAt ?? -Infinity, timing.endedAt)
      }
    }
    info.tasks.push(timing)
  }
  if (info.startedAt !== undefined && info.endedAt !== undefined) info.durationMs = info.endedAt - info.startedAt
  info.host = info.tasks[0]?.host
  info.thread = info.tasks[0]?.thread
  return info
}

/** A submission file found under a folder template. */
export interface SubmissionFile {
  file: string
  arrayId: string
  /** when it was submitted (ms since the epoch): the file's birth time where the file system keeps it */
  submittedAt: number
}

/**
 * Every submission under `template` (an executor's folder template, or a plain folder), newest
 * first. Each folder level with an id (%j, %A) is listed once; an element's own folder (A_3) is
 * never entered: an array's shared files live in the folder made with %j = %A = A.
 */
export function findSubmissions(template: string): SubmissionFile[] {
  const abs = path.resolve(template)
  const found = new Map<string, SubmissionFile>()
  // with %a in the template, an array's folder (%a = all) and a single job's (%a empty) differ
  for (const isArray of [true, false]) {
    const parts = submittedPath(abs, '\0', isArray).split(path.sep)
    const walk = (dir: string, level: number, id: string | undefined): void => {
      if (level === parts.length - 1) {
        for (const name of readdir(dir)) {
          const m = /^(.+)_submitted\.v8$/.exec(name)
          if (!m || (id !== undefined && m[1] !== id)) continue
          const file = path.join(dir, name)
          if (!found.has(file)) found.set(file, { file, arrayId: m[1], submittedAt: birth(file) })
        }
        return
      }
      const pattern = parts[level]
      if (!pattern.includes('\0')) return walk(path.join(dir, pattern), level + 1, id)
      const before = pattern.slice(0, pattern.indexOf('\0'))
      const after = pattern.slice(pattern.lastIndexOf('\0') + 1)
      for (const name of readdir(dir)) {
        if (!name.startsWith(before) || !name.endsWith(after) || name.length <= before.length + after.length) continue
        const value = name.slice(before.length, name.length - after.length)
        if (/_\d+$/.test(value) || (id !== undefined && value !== id)) continue // an element's folder
        walk(path.join(dir, name), level + 1, value)
      }
    }
    // from the longest leading part without an id
    let level = 1
    let root: string = path.sep
    while (level < parts.length - 1 && !parts[level].includes('\0')) root = path.join(root, parts[level++])
    walk(root, level, undefined)
  }
  return [...found.values()].sort((a, b) => b.submittedAt - a.submittedAt || (a.arrayId < b.arrayId ? 1 : -1))
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

/** When a submission file was made: its birth time, or its last change when that is earlier (a copy keeps the latter: cp -a, rsync -t). */
function birth(file: string): number {
  try {
    const st = fs.statSync(file)
    return st.birthtimeMs > 0 ? Math.min(st.birthtimeMs, st.mtimeMs) : st.mtimeMs
  } catch {
    return 0
  }
}

/** The submission file of an array or job id under `template`; undefined when there is none. */
export function submissionFile(template: string, arrayId: string): string | undefined {
  for (const isArray of [true, false]) {
    const file = submittedPath(path.resolve(template), arrayId, isArray)
    if (fs.existsSync(file)) return file
  }
  return undefined
}

/** What the result files of one array say, per element (task 0's timings; the worst task state). */
export interface ArrayScan {
  record: SubmissionRecord
  /** the folder template the files were read from (the record's, unless the caller gave another) */
  folder: string
  size: number
  numTasks: number
  /** FINAL_STATES index per element, NO_OUTCOME while some task has none */
  states: Uint8Array
  /** ms since the epoch, NaN when unknown */
  startedAt: Float64Array
  endedAt: Float64Array
  /** where each element ran ("host" on Slurm, "host/thread N" locally), undefined when unknown */
  where: (string | undefined)[]
  /** the error of each element that did not complete (as stored: may hold markers, see `marked`) */
  errors: Map<number, { error: unknown; marked: boolean }>
  /** result files that are there but cannot be read, and the elements they hold */
  damaged: { file: string; error: string; first: number; last: number }[]
  /** with `values`: task 0's value of each element that completed (as stored), and whether it holds markers */
  values?: { value: unknown; marked: boolean }[]
}

export interface ScanOptions {
  /** the folder template to read from (default: the record's own; the command line's when the folder moved) */
  folder?: string
  /** keep the values of the completed elements (ArrayScan.values) */
  values?: boolean
}

/**
 * A folder template as a function of the ids, for 100k jobs at a time: the template is split and
 * made absolute once, not run through a regex and path.resolve per job (an id never holds a '/').
 */
export function folderResolver(template: string): (vars: FolderVars) => string {
  const abs = path.resolve(template)
  const parts = abs.split(/(%[jAat%])/)
  return (vars) => {
    let out = ''
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k]
      if (k % 2 === 0) out += part
      else {
        const value = part === '%%' ? '%' : vars[part[1] as keyof FolderVars]
        if (value === '' || value.includes('/')) return resolveFolder(abs, vars) // an empty %a: let path.resolve tidy the slashes
        out += value
      }
    }
    return out
  }
}

/** Folder listings made once for a scan (a folder's names, null when it is not there). */
class Listings {
  private readonly names = new Map<string, Set<string> | null>()

  get(dir: string): Set<string> | null {
    let names = this.names.get(dir)
    if (names === undefined) {
      try {
        names = new Set(fs.readdirSync(dir))
      } catch {
        names = null
      }
      this.names.set(dir, names)
    }
    return names
  }

  /** Whether `file` exists: its folder's listing for the shared folders; for a job's own folder, its parent's says whether it exists at all, then one stat. */
  has(file: string, shared: Set<string>): boolean {
    const dir = path.dirname(file)
    if (shared.has(dir)) return this.get(dir)?.has(path.basename(file)) === true
    if (this.get(path.dirname(dir))?.has(path.basename(dir)) !== true) return false
    return fs.existsSync(file)
  }
}

/**
 * Reads every result file of an array in one listing pass: its folder listed once (the chunk files
 * and the jobs' own files there), each chunk file read once; jobs' own folders (a template with
 * %j) are looked into only when their parent's listing (made once) holds them.
 */
export function scanArray(record: SubmissionRecord, options: ScanOptions = {}): ArrayScan {
  const size = record.isArray ? record.args.length : 1
  const numTasks = record.params.tasksPerNode * record.params.nodes
  const template = options.folder === undefined ? record.folder : path.resolve(options.folder)
  const scan: ArrayScan = {
    record,
    folder: template,
    size,
    numTasks,
    states: new Uint8Array(size).fill(NO_OUTCOME),
    startedAt: new Float64Array(size).fill(NaN),
    endedAt: new Float64Array(size).fill(NaN),
    where: new Array(size).fill(undefined),
    errors: new Map(),
    damaged: [],
  }
  if (options.values) scan.values = new Array(size)
  const seen = new Uint8Array(size) // tasks found per element
  const worst: FinalState[][] = numTasks > 1 ? Array.from({ length: size }, () => []) : []
  const take = (rec: ResultRecord, k: number, index: number): void => {
    if (rec.nonce !== record.nonce || index < 0 || index >= size || k < 0 || k >= rec.states.length) return
    const state = FINAL_STATES[rec.states[k]]
    if (state === undefined) return
    seen[index]++
    if (numTasks > 1) worst[index].push(state)
    else scan.states[index] = rec.states[k]
    if (state !== 'COMPLETED' && !scan.errors.has(index)) scan.errors.set(index, { error: rec.values[k], marked: rec.marked })
    if (rec.task === 0) {
      if (scan.values && state === 'COMPLETED') scan.values[index] = { value: rec.values[k], marked: rec.marked }
      if (rec.startedAt && rec.endedAt) {
        scan.startedAt[index] = rec.startedAt[k]
        scan.endedAt[index] = rec.endedAt[k]
        scan.where[index] = record.backend === 'slurm' || rec.thread === undefined ? rec.host : `${rec.host}/thread ${rec.thread}`
      }
    }
  }
  // a result file that is there but cannot be read (results are written whole: renamed into place):
  // truncated by a copy, damaged, of another format version; one removed since the listing is not
  const damaged = (file: string, e: unknown, first: number, last: number) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
    scan.damaged.push({ file, error: (e as Error).message, first, last })
  }
  const folder = arrayFolder(template, record.arrayId, record.isArray)
  const listings = new Listings()
  const names = listings.get(folder) ?? new Set<string>()
  const prefix = `${record.arrayId}_`
  if (record.isArray) {
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(`_result.${EXT}`)) continue
      const m = /^(\d+)-(\d+)_(\d+)_result\.v8$/.exec(name.slice(prefix.length))
      if (!m) continue
      let rec: ResultRecord
      try {
        rec = readResult(path.join(folder, name))
      } catch (e) {
        damaged(path.join(folder, name), e, Number(m[1]), Number(m[2]))
        continue
      }
      for (let k = 0; k < rec.states.length; k++) take(rec, k, rec.first + k)
    }
  }
  // the elements with a file of their own (Slurm jobs, chunks of one, single jobs, ended by the executor)
  const shared = new Set([folder])
  const folderOf = folderResolver(template)
  const vars: FolderVars = { j: '', A: record.arrayId, a: '', t: '' }
  for (let i = 0; i < size; i++) {
    if (seen[i] >= numTasks) continue
    const jobId = makeJobId(record.arrayId, record.isArray ? i : null)
    vars.j = jobId
    vars.a = record.isArray ? String(i) : ''
    for (let t = 0; t < numTasks; t++) {
      vars.t = String(t)
      const file = `${folderOf(vars)}${path.sep}${jobId}_${t}_result.${EXT}`
      if (!listings.has(file, shared)) continue
      try {
        const rec = readResult(file)
        take(rec, i - rec.first, i)
      } catch (e) {
        damaged(file, e, i, i)
      }
    }
  }
  if (numTasks > 1) {
    for (let i = 0; i < size; i++) if (worst[i].length >= numTasks) scan.states[i] = FINAL_STATES.indexOf(worstState(worst[i]))
  }
  return scan
}

/** Every element's state, and why for those that have one (Slurm's pending reason, a dead owner). */
export interface ArrayStates {
  scan: ArrayScan
  states: JobState[]
  reasons: Map<number, string>
}

/**
 * The state of every element of an array: from its result files (scanArray), or, for those without
 * an outcome yet, from its backend. A backend watched through its files (local, debug) answers for
 * all of them at once (its owner lives or not; asked before the scan, so that the scan of an array
 * whose owner is gone holds all it ever wrote); one with a watcher (Slurm) gets its unfinished jobs
 * attached, and `refresh` asks the scheduler once for all of them.
 */
export async function arrayStates(record: SubmissionRecord, options: ScanOptions & { refresh?: () => Promise<void> } = {}): Promise<ArrayStates> {
  const unfinished = unfinishedState(record)
  const scan = scanArray(record, options)
  const states = new Array<JobState>(scan.size)
  const reasons = new Map<number, string>()
  // it ended (its result was written), but how is lost: FAILED, saying why, never waited for
  for (const d of scan.damaged) {
    for (let i = Math.max(0, d.first); i <= Math.min(scan.size - 1, d.last); i++) {
      if (scan.states[i] !== NO_OUTCOME || reasons.has(i)) continue
      states[i] = 'FAILED'
      reasons.set(i, d.error.includes(d.file) ? d.error : `its result file ${d.file} cannot be read: ${d.error}`)
    }
  }
  const open: { i: number; job: Job<unknown> }[] = []
  for (let i = 0; i < scan.size; i++) {
    if (states[i] !== undefined) continue
    if (scan.states[i] !== NO_OUTCOME) states[i] = FINAL_STATES[scan.states[i]]
    else if (unfinished) {
      states[i] = liveState(unfinished, i)
      if (unfinished.reason) reasons.set(i, unfinished.reason)
    } else {
      const job = attachJob(scan.folder, makeJobId(record.arrayId, record.isArray ? i : null))
      void job.state // registers it with its watcher
      open.push({ i, job })
    }
  }
  if (open.length > 0 && options.refresh) await options.refresh()
  for (const { i, job } of open) {
    states[i] = job.state
    const reason = job.reason
    if (reason) reasons.set(i, reason)
  }
  await accountedTimings(scan, states)
  return { scan, states, reasons }
}

/** Timings of the ended elements that recorded none (killed by the scheduler), from their backend (Slurm: sacct), once for all. */
async function accountedTimings(scan: ArrayScan, states: JobState[]): Promise<void> {
  const timings = getBackend(scan.record.backend)?.timings
  if (!timings) return
  const untimed = new Map<string, number>()
  for (let i = 0; i < scan.size; i++) {
    if (Number.isNaN(scan.startedAt[i]) && isFinalState(states[i])) untimed.set(makeJobId(scan.record.arrayId, scan.record.isArray ? i : null), i)
  }
  if (untimed.size === 0) return
  for (const [jobId, t] of await timings(scan.record, [...untimed.keys()])) {
    const i = untimed.get(jobId)
    if (i === undefined || t.startedAt === undefined || t.endedAt === undefined) continue
    scan.startedAt[i] = t.startedAt
    scan.endedAt[i] = t.endedAt
    scan.where[i] = t.host
  }
}

/** Splits an id given on a command line into its array id and index. */
export { parseJobId }
