// The serialized-task format, shared by every backend: v8 records (those of plain data as JSON,
// where JSON gives back exactly what v8 would, faster: see json-record.ts), versioned, written atomically.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import v8 from 'node:v8'
import { threadId } from 'node:worker_threads'
import { decodeValue, encodeValue, unsendableError } from './values.js'
import { decodeJsonRecord, encodeJsonRecord, isJsonRecord } from './json-record.js'
import { ResultWriteError } from './job-errors.js'
import type { Owner } from './owner.js'
import { makeJobId, resultsPath } from './paths.js'
import type { TaskRef } from './task.js'

// 2: submissions, results and checkpoints carry the submission's nonce
export const FORMAT_VERSION = 2

export type BackendName = 'debug' | 'local' | 'slurm'

/** Parameters the worker itself needs (the rest belong to the backend). */
export interface WorkerParameters {
  timeoutMin?: number
  tasksPerNode: number
  nodes: number
  /** a task's stderr goes to its _log.out (the worker's capture; Slurm's own logs follow the script) */
  stderrToStdout?: boolean
  /** Slurm's chunkSize: elements per Slurm array task (a pack); element i runs in task ⌊i / pack⌋ */
  pack?: number
}

/** One file per array (or single job): everything needed to run any of its elements. */
export interface SubmissionRecord {
  format: 'submitit-ts/submission'
  version: number
  node: string
  backend: BackendName
  arrayId: string
  /**
   * A random id of this submission, copied into every result and checkpoint made for it: a file left
   * by an older job with the same id (Slurm reuses ids after a reset) is never taken for this one's.
   */
  nonce: string
  /** false for a single job (its id has no _index) */
  isArray: boolean
  folder: string
  params: WorkerParameters
  /** who submitted, so a re-attached local job whose owner died is not waited on forever */
  owner: Owner
  fns: TaskRef[]
  /** element i runs fns[fnIndex[i]] with args[i] */
  fnIndex: number[]
  args: unknown[][]
  /** args hold markers for decodeValue */
  marked: boolean
}

/** The ways a task can end; a result record stores each as its index here. */
export const FINAL_STATES = ['COMPLETED', 'FAILED', 'TIMEOUT', 'CANCELLED'] as const
export type FinalState = (typeof FINAL_STATES)[number]

/** A job's state from how its tasks ended: the worst of them (FAILED, then TIMEOUT, then CANCELLED). */
export function worstState(states: Iterable<FinalState>): FinalState {
  let worst: FinalState = 'COMPLETED'
  for (const s of states) if (SEVERITY[s] > SEVERITY[worst]) worst = s
  return worst
}
const SEVERITY: Record<FinalState, number> = { COMPLETED: 0, CANCELLED: 1, TIMEOUT: 2, FAILED: 3 }

/** How one task ended. */
export type Outcome = { state: 'COMPLETED'; value: unknown } | { state: Exclude<FinalState, 'COMPLETED'>; error: unknown }

/**
 * Outcomes of task `task` of elements first..first+states.length-1, as two columns (no object per
 * element: a chunk holds up to a thousand of them): states[k] indexes FINAL_STATES, values[k] is the
 * returned value or the error.
 */
export interface ResultRecord {
  format: 'submitit-ts/result'
  version: number
  node: string
  arrayId: string
  /** the nonce of the submission this result belongs to */
  nonce: string
  first: number
  task: number
  marked: boolean
  /** typed arrays in a chunk's record, plain arrays in a record of a few elements (see SMALL_RECORD) */
  states: Column
  values: unknown[]
  /** when each element started and ended (ms since the epoch; absent in records of older writers) */
  startedAt?: Column
  endedAt?: Column
  /** where the elements ran: the host (a Slurm node) and the worker thread's id there */
  host?: string
  thread?: number
}

/** A column of numbers in a record, read by index. */
export type Column = ArrayLike<number>

/**
 * Up to this many elements, a result record's columns are plain arrays: v8 writes a typed array
 * through a JavaScript callback of Node's (~1 µs each, three per record: a third of a single job's
 * result record), and a plain array of a few numbers costs nothing.
 */
const SMALL_RECORD = 16

/** Start and end of each element of a record, interleaved: [start0, end0, start1, end1, ...]. */
export type ElementTimes = readonly number[]

let host: string | undefined
/** os.hostname() is a system call: once per thread, not per record. */
function hostname(): string {
  host ??= os.hostname()
  return host
}

/** Builds a result record from encoded outcomes. */
export function resultRecord(
  sub: Pick<SubmissionRecord, 'arrayId' | 'nonce'>,
  first: number,
  task: number,
  outcomes: readonly Outcome[],
  marked: boolean,
  times?: ElementTimes,
  /** the worker thread the times are of; null when the writer does not know it (an executor ending a job it stopped) */
  thread: number | null = threadId,
): ResultRecord {
  const n = outcomes.length
  const column = n <= SMALL_RECORD ? (): number[] => new Array<number>(n).fill(0) : (): Float64Array => new Float64Array(n)
  const states = n <= SMALL_RECORD ? new Array<number>(n) : new Uint8Array(n)
  const values = new Array<unknown>(n)
  for (let k = 0; k < n; k++) {
    const o = outcomes[k]
    states[k] = FINAL_STATES.indexOf(o.state)
    values[k] = o.state === 'COMPLETED' ? o.value : o.error
  }
  const record: ResultRecord = {
    format: 'submitit-ts/result',
    version: FORMAT_VERSION,
    node: process.version,
    arrayId: sub.arrayId,
    nonce: sub.nonce,
    first,
    task,
    marked,
    states,
    values,
  }
  if (times && times.length >= 2 * n) {
    // two columns, no object per element (read by `submitit-ts list`, `report`, jobInfo())
    const startedAt = column()
    const endedAt = column()
    for (let k = 0; k < n; k++) {
      startedAt[k] = times[2 * k]
      endedAt[k] = times[2 * k + 1]
    }
    record.startedAt = startedAt
    record.endedAt = endedAt
    record.host = hostname()
    if (thread !== null) record.thread = thread
  }
  return record
}

/**
 * Writes the outcomes of jobs first.. as the result file `file`. One that cannot be written (disk
 * full, folder gone) fails every job in it with the cause, in the record returned: a job never
 * waits for a file that will not come.
 */
export function writeResultFile(
  sub: Pick<SubmissionRecord, 'arrayId' | 'nonce' | 'isArray'>,
  file: string,
  first: number,
  task: number,
  outcomes: readonly Outcome[],
  marked: boolean,
  times?: ElementTimes,
  /** write only if no result is there yet (first writer wins: a packed element's cancel and its run) */
  exclusive = false,
  thread: number | null = threadId,
): { record: ResultRecord; bytes: Uint8Array; written: boolean; existed?: boolean } {
  let record = resultRecord(sub, first, task, outcomes, marked, times, thread)
  let bytes: Uint8Array = encodeRecord(record)
  try {
    if (!writeAtomic(file, bytes, exclusive)) return { record, bytes, written: false, existed: true }
    return { record, bytes, written: true }
  } catch (e) {
    const failed = outcomes.map(
      (_, k) =>
        encodeOutcome(
          {
            state: 'FAILED',
            error: new ResultWriteError(
              `job ${sub.isArray ? `${sub.arrayId}_${first + k}` : sub.arrayId} ended, but ${(e as Error).message}; ` +
                'its outcome is lost: fix that, then submit it again',
              (e as NodeJS.ErrnoException).code,
            ),
          },
          'a result',
        ).outcome,
    )
    record = resultRecord(sub, first, task, failed, true, times, thread)
    bytes = encodeRecord(record)
    return { record, bytes, written: false }
  }
}

/**
 * Writes the result file of element `index`, task `task`, that ended without a value (a crash, a
 * time limit, a cancel) for `error`, as the worker or the canceller records it. `exclusive`: only if
 * no result is there yet (a packed element): `written` says whether this one was.
 */
export function writeEndedResult(
  sub: Pick<SubmissionRecord, 'folder' | 'arrayId' | 'nonce' | 'isArray'>,
  index: number,
  task: number,
  state: Exclude<FinalState, 'COMPLETED'>,
  error: Error,
  exclusive = false,
): { file: string; written: boolean } {
  const file = resultsPath(sub.folder, sub.arrayId, sub.isArray, index, 1, task)
  const { outcome, marked } = encodeOutcome({ state, error }, `the result of job ${makeJobId(sub.arrayId, sub.isArray ? index : null)}`)
  return { file, written: writeResultFile(sub, file, index, task, [outcome], marked, undefined, exclusive).written }
}

/** The outcome of element first+k of a record. */
export function outcomeAt(record: ResultRecord, k: number): Outcome | undefined {
  const state = FINAL_STATES[record.states[k]]
  if (state === undefined) return undefined
  return state === 'COMPLETED' ? { state, value: record.values[k] } : { state, error: record.values[k] }
}

/** The arguments a requeued job runs again with, saved by its task's checkpoint function. */
export interface CheckpointRecord {
  format: 'submitit-ts/checkpoint'
  version: number
  node: string
  jobId: string
  /** the nonce of the submission it was saved for */
  nonce: string
  args: unknown[]
  marked: boolean
  at: number
}

/**
 * Writes through a temporary file and a rename, so a reader never sees half a file. On failure
 * (disk full, read-only or missing folder) no temporary file is left, and the error names the file.
 */
export function writeAtomic(file: string, data: Uint8Array, exclusive = false): boolean {
  const tmp = `${file}.tmp-${process.pid}-${threadId}`
  try {
    try {
      fs.writeFileSync(tmp, data, { mode: 0o600 })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      makeFolder(path.dirname(file))
      fs.writeFileSync(tmp, data, { mode: 0o600 })
    }
    if (!exclusive) {
      fs.renameSync(tmp, file)
      return true
    }
    // a link fails if the name exists: whole, and only if no one wrote it first
    try {
      fs.linkSync(tmp, file)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      return false
    } finally {
      fs.unlinkSync(tmp)
    }
    return true
  } catch (e) {
    try {
      fs.unlinkSync(tmp)
    } catch {
      /* not made */
    }
    throw fileError(e, `cannot write ${file}`)
  }
}

/**
 * Folders made lately by makeFolderBeforeWrite: a folder without %j is asked for at every
 * submission, and its mkdir would be a system call for nothing.
 */
const madeFolders = new Set<string>()
const MADE_FOLDERS_MAX = 256

/**
 * makeFolder, once per folder, for a folder that writeAtomic writes into next: one removed since
 * it was made is made again by writeAtomic itself, which does not trust this cache.
 */
export function makeFolderBeforeWrite(folder: string): void {
  if (madeFolders.has(folder)) return
  makeFolder(folder)
  if (madeFolders.size >= MADE_FOLDERS_MAX) madeFolders.delete(madeFolders.values().next().value!)
  madeFolders.add(folder)
}

/** Job folders are user-only: a submitted file is code execution. */
export function makeFolder(folder: string): void {
  try {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 })
  } catch (e) {
    throw fileError((e as NodeJS.ErrnoException).code === 'ENOENT' ? (realMkdirError(folder) ?? e) : e, `cannot create the folder ${folder}`)
  }
}

/**
 * A recursive mkdir says ENOENT for a read-only or unwritable parent: making the first missing
 * folder alone gives the real reason (EROFS, EACCES...).
 */
function realMkdirError(folder: string): unknown {
  let missing = path.resolve(folder)
  while (!fs.existsSync(path.dirname(missing)) && path.dirname(missing) !== missing) missing = path.dirname(missing)
  try {
    fs.mkdirSync(missing, { mode: 0o700 })
    fs.rmdirSync(missing)
    return undefined
  } catch (e) {
    return e
  }
}

/** An I/O error that says what was being done, keeping its code (ENOSPC, EROFS...) for callers. */
function fileError(e: unknown, what: string): Error {
  const cause = e as NodeJS.ErrnoException
  if (cause.message?.startsWith('cannot ')) return cause // already said
  const hint =
    cause.code === 'ENOSPC' || cause.code === 'EDQUOT'
      ? ': the disk is full (or the quota spent); free some space'
      : cause.code === 'EROFS'
        ? ': the file system is read-only; choose another folder'
        : cause.code === 'EACCES' || cause.code === 'EPERM'
          ? ': permission denied; choose a folder you can write to'
          : ''
  return Object.assign(new Error(`${what}: ${cause.message}${hint}`, { cause }), { code: cause.code })
}

export function encodeRecord(record: SubmissionRecord | ResultRecord | CheckpointRecord): Buffer {
  const json = encodeJsonRecord(record, record.format === 'submitit-ts/submission' ? record : undefined)
  if (json) return json
  try {
    return v8.serialize(record)
  } catch (e) {
    if (record.format !== 'submitit-ts/submission') throw e
    throw unsendableArgument(record, e)
  }
}

/** v8 refused a submission the checks let through (e.g. a Proxy argument): name the argument. */
function unsendableArgument(record: SubmissionRecord, cause: unknown): Error {
  for (let i = 0; i < record.args.length; i++) {
    const args = record.args[i]
    for (let j = 0; j < args.length; j++) {
      try {
        v8.serialize(args[j])
      } catch {
        const fn = record.fns[record.fnIndex[i]].exportName
        return unsendableError(args[j], `argument ${j + 1} of ${fn}${record.isArray ? ` (element ${i})` : ''}`, cause)
      }
    }
  }
  return cause as Error
}

function checkRecord<T extends { format: string; version: number; node: string }>(value: unknown, format: T['format'], file: string): T {
  const r = value as T
  if (typeof r !== 'object' || r === null || r.format !== format) {
    throw new Error(`${file} is not a ${format} file`)
  }
  if (r.version !== FORMAT_VERSION) {
    const by = r.version > FORMAT_VERSION ? 'a newer' : 'an older'
    throw new Error(
      `${file} was written in format ${r.version} by ${by} submitit-ts (Node ${r.node}); this one reads format ${FORMAT_VERSION} only: use the same version, or submit the job again`,
    )
  }
  return r
}

function deserialize(bytes: Uint8Array, file: string): unknown {
  const json = isJsonRecord(bytes)
  try {
    return json ? decodeJsonRecord(bytes) : v8.deserialize(bytes)
  } catch (e) {
    const why = json ? 'it was changed or cut short: submit the job again' : `it may come from a newer Node than ${process.version}`
    throw new Error(`cannot read ${file}: ${(e as Error).message} (${why})`, { cause: e })
  }
}

export function decodeSubmission(bytes: Uint8Array, file: string): SubmissionRecord {
  return checkRecord<SubmissionRecord>(deserialize(bytes, file), 'submitit-ts/submission', file)
}

export function decodeResult(bytes: Uint8Array, file: string): ResultRecord {
  return checkRecord<ResultRecord>(deserialize(bytes, file), 'submitit-ts/result', file)
}

export function readCheckpoint(file: string): CheckpointRecord {
  return checkRecord<CheckpointRecord>(deserialize(fs.readFileSync(file), file), 'submitit-ts/checkpoint', file)
}

export function readSubmission(file: string): SubmissionRecord {
  return decodeSubmission(fs.readFileSync(file), file)
}

export function readResult(file: string): ResultRecord {
  return decodeResult(fs.readFileSync(file), file)
}

/** Encodes a task's return value or error into an Outcome ready for v8. */
export function encodeOutcome(outcome: Outcome, where: string): { outcome: Outcome; marked: boolean } {
  if (outcome.state === 'COMPLETED') {
    const { value, marked } = encodeValue(outcome.value, where)
    return { outcome: { state: 'COMPLETED', value }, marked }
  }
  const { value, marked } = encodeValue(outcome.error, where)
  return { outcome: { state: outcome.state, error: value }, marked }
}

/** Undoes encodeOutcome; a no-op for records without markers. */
export async function decodeOutcome(outcome: Outcome, marked: boolean): Promise<Outcome> {
  if (!marked) return outcome
  return outcome.state === 'COMPLETED'
    ? { state: 'COMPLETED', value: await decodeValue(outcome.value) }
    : { state: outcome.state, error: await decodeValue(outcome.error) }
}
