// Job<R>: a handle on one submitted job, like submitit's Job. Its state comes from its backend's
// watcher; its results come from memory when this process ran it, else from its result files.
import fs from 'node:fs'
import { inspect } from 'node:util'
import { cachedGet } from './cache.js'
import { findChunkFile } from './chunk-listing.js'
import { FailedJobError, UncompletedJobError } from './errors.js'
import { decodeOutcome, outcomeAt, readResult, readSubmission, type Outcome, type ResultRecord, type SubmissionRecord } from './format.js'
import type { JobPaths } from './paths.js'
import type { TaskRef } from './task.js'
import { decodeValue } from './values.js'

/** Slurm's job states; the local backends use the same names. */
export const JOB_STATES = [
  'PENDING',
  'RUNNING',
  'COMPLETING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'PREEMPTED',
  'REQUEUED',
  'SUSPENDED',
  'BOOT_FAIL',
  'DEADLINE',
  'UNKNOWN',
] as const
export type JobState = (typeof JOB_STATES)[number]

// PREEMPTED is not final: a preempted job is usually requeued (as submitit sees it)
const FINAL = new Set<JobState>(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL', 'DEADLINE'])
export function isFinalState(s: JobState): boolean {
  return FINAL.has(s)
}

/** An outcome and whether its values hold markers to decode. */
export interface KnownOutcome {
  outcome: Outcome
  marked: boolean
}

/** How a backend tells a job's state, waits for it and cancels it. */
export interface JobWatcher {
  /** the outcome of a task this process saw end (saves reading its result file) */
  outcome?(job: Job<unknown>, task: number): KnownOutcome | undefined
  /** someone polls done(): a backend that runs jobs only on demand (Debug) starts this one */
  poll?(job: Job<unknown>): void
  /** why the job is in its state, when the backend knows (Slurm's pending reason, a dead owner...) */
  reason?(job: Job<unknown>): string | undefined
  /** last known state, without blocking */
  state(job: Job<unknown>): JobState
  /** resolves once the job is final; an aborted `signal` (a wait with a timeout) ends this wait only */
  waitFinal(job: Job<unknown>, signal?: AbortSignal): Promise<void>
  cancel(job: Job<unknown>): Promise<void>
}

/** How long wait(), result()... may wait: past `timeoutMs` they reject with a WaitTimeoutError. */
export interface WaitOptions {
  timeoutMs?: number
}

/** A wait with a timeout expired. The job is not touched: it goes on (job.cancel() stops it). */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError'
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
    readonly state: JobState,
    readonly reason: string | undefined,
  ) {
    super(`job ${jobId} did not end within ${timeoutMs / 1000} s: it is ${state}${reason ? ` (${reason})` : ''}; it goes on (job.cancel() stops it)`)
  }
}

/** The submission of one job, as stored on disk. */
export interface JobSubmission {
  task: TaskRef
  args: unknown[]
}

// Re-attached jobs of one array share chunk files: read each once.
const records = new Map<string, ResultRecord>()

/**
 * The result record holding task `task` of a job, and the element's place in it; undefined when
 * there is no result file yet, or only one left by another submission (a reused job id): `nonce`
 * is the submission's.
 */
export function resultRecordOf(paths: JobPaths, task: number, nonce: string): { record: ResultRecord; k: number } | undefined {
  let file = paths.resultFile(task)
  if (!fs.existsSync(file)) {
    if (paths.index === null) return undefined
    // one listing of the folder per poll, not one per job (see chunk-listing.ts)
    const chunk = findChunkFile(paths.arrayFolder, paths.arrayId, paths.index, task)
    if (!chunk) return undefined
    file = chunk
  }
  // a job's own file is read afresh; chunk files, shared by many jobs, once
  const record = file.endsWith(`${paths.jobId}_${task}_result.v8`) ? readResult(file) : cachedGet(records, file, 64, readResult)
  if (record.nonce !== nonce) return undefined
  return { record, k: (paths.index ?? 0) - record.first }
}

/** Reads task `task`'s outcome from disk (see resultRecordOf). */
function readOutcome(paths: JobPaths, task: number, nonce: string): KnownOutcome | undefined {
  const found = resultRecordOf(paths, task, nonce)
  const outcome = found && outcomeAt(found.record, found.k)
  return outcome && { outcome, marked: found!.record.marked }
}

export class Job<R> {
  /** outcomes read from disk, by task rank */
  #read: (KnownOutcome | undefined)[] | undefined
  readonly #watcher: JobWatcher

  /** Made by the backends (a plugin: jobsOfSubmission); users get jobs from submit, mapArray, attachJob. */
  constructor(
    readonly paths: JobPaths,
    readonly numTasks: number,
    watcher: JobWatcher,
    /** the nonce of the submission that made this job: files of any other are not its own */
    readonly nonce: string,
  ) {
    this.#watcher = watcher
  }

  get jobId(): string {
    return this.paths.jobId
  }

  /** The last known state (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT...). */
  get state(): JobState {
    return this.#watcher.state(this as Job<unknown>)
  }

  /** Why the job is in its state, when the backend knows (e.g. Slurm's pending reason, a dead owner). */
  get reason(): string | undefined {
    return this.#watcher.reason?.(this as Job<unknown>)
  }

  /** Whether the job has ended, in any way. */
  done(): boolean {
    this.#watcher.poll?.(this as Job<unknown>)
    return isFinalState(this.state)
  }

  /**
   * Resolves once the job has ended (it does not throw when the job failed). Rejects when the backend
   * knows it will never end (e.g. Slurm keeps it pending for good), or, with `timeoutMs`, with a
   * WaitTimeoutError once that has passed (the job goes on).
   */
  wait(options?: WaitOptions): Promise<void> {
    const timeoutMs = options?.timeoutMs
    if (timeoutMs === undefined) return this.#watcher.waitFinal(this as Job<unknown>)
    if (!(timeoutMs >= 0)) return Promise.reject(new RangeError(`timeoutMs must be a number of milliseconds >= 0, got ${timeoutMs}`))
    const aborter = new AbortController()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new WaitTimeoutError(this.jobId, timeoutMs, this.state, this.reason)
        aborter.abort(error)
        reject(error)
      }, timeoutMs)
      this.#watcher.waitFinal(this as Job<unknown>, aborter.signal).then(
        () => {
          clearTimeout(timer)
          resolve()
        },
        (e) => {
          clearTimeout(timer)
          reject(e)
        },
      )
    })
  }

  cancel(): Promise<void> {
    return this.#watcher.cancel(this as Job<unknown>)
  }

  /** The outcome of a task, from the watcher or its result file; undefined while it has none. @internal */
  peekOutcome(task: number): KnownOutcome | undefined {
    const known = this.#watcher.outcome?.(this as Job<unknown>, task)
    if (known) return known
    this.#read ??= []
    return this.#read[task] ?? (this.#read[task] = readOutcome(this.paths, task, this.nonce))
  }

  async #outcome(task: number): Promise<Outcome> {
    await this.wait()
    const found = this.peekOutcome(task)
    if (!found) {
      // killed, timed out or lost by the scheduler before the worker could write its result
      const state = this.state
      const reason = this.reason
      return {
        state: state === 'CANCELLED' || state === 'TIMEOUT' ? state : 'FAILED',
        error: new UncompletedJobError(
          `job ${this.jobId}${this.numTasks > 1 ? ` (task ${task})` : ''} ended as ${state} ` +
            `without writing its result file ${this.paths.resultFile(task)}${reason ? ` (${reason})` : ''}; ${this.#logsSaying(task)}`,
        ),
      }
    }
    return decodeOutcome(found.outcome, found.marked)
  }

  /** What the task's logs hold, for a job that left no result (submitit's "has not produced any output"). */
  #logsSaying(task: number): string {
    const out = this.paths.stdout(task)
    const err = this.paths.stderr(task)
    const errTail = logTail(err)
    if (errTail) return `its stderr (${err}) ends with:\n${errTail}`
    const outTail = logTail(out)
    if (outTail) return `it wrote nothing to stderr; its stdout (${out}) ends with:\n${outTail}`
    return `no output was produced; check ${err} and ${out}, and the scheduler's own log if it has one`
  }

  #failure(task: number, outcome: Exclude<Outcome, { state: 'COMPLETED' }>): FailedJobError {
    const error = outcome.error as Error
    const logs = { stdout: this.paths.stdout(task), stderr: this.paths.stderr(task) }
    // made here, not in the job: no remote stack to show, and its message already says what the logs hold
    if (error instanceof UncompletedJobError) return new FailedJobError(error.message, this.jobId, outcome.state, undefined, logs, { cause: error })
    const stack = error?.stack
    const what = this.numTasks > 1 ? `job ${this.jobId} (task ${task})` : `job ${this.jobId}`
    // a thrown non-Error (an object, a string) is shown as it is, never as [object Object]
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : `${inspect(error, { depth: 3, breakLength: Infinity })} (thrown, not an Error)`
    return new FailedJobError(
      `${what} ${outcome.state === 'FAILED' ? 'failed' : `ended as ${outcome.state}`}: ${reason}\n` +
        (stack ? `--- remote stack ---\n${stack}\n` : '') +
        `--- logs: ${logs.stderr} (stderr), ${logs.stdout} (stdout)`,
      this.jobId,
      outcome.state,
      stack,
      logs,
      { cause: error },
    )
  }

  /** The value the task returned; throws FailedJobError (with the remote stack) if it did not. */
  result(options?: WaitOptions): Promise<R> {
    if (this.numTasks > 1) {
      return Promise.reject(new Error(`job ${this.jobId} has ${this.numTasks} tasks: use results() for one value per task`))
    }
    return this.taskResult(0, options)
  }

  /** One value per task, in rank order. */
  async results(options?: WaitOptions): Promise<R[]> {
    if (!this.done()) await this.wait(options)
    const values: R[] = []
    for (let t = 0; t < this.numTasks; t++) values.push(await this.taskResult(t))
    return values
  }

  /** The value task `rank` returned; throws FailedJobError if it did not. */
  async taskResult(rank: number, options?: WaitOptions): Promise<R> {
    if (!this.done()) await this.wait(options)
    // the common case, with no further await: a value that needs no decoding
    const known = this.peekOutcome(rank)
    if (known?.outcome.state === 'COMPLETED' && !known.marked) return known.outcome.value as R
    const o = await this.#outcome(rank)
    if (o.state !== 'COMPLETED') throw this.#failure(rank, o)
    return o.value as R
  }

  /** The error of the lowest failing task, or null when every task completed. Waits for the end. */
  async exception(options?: WaitOptions): Promise<FailedJobError | null> {
    try {
      await this.wait(options)
    } catch (e) {
      if (e instanceof FailedJobError) return e // e.g. Slurm says the job can never start
      throw e
    }
    for (let t = 0; t < this.numTasks; t++) {
      const o = await this.#outcome(t)
      if (o.state !== 'COMPLETED') return this.#failure(t, o)
    }
    return null
  }

  /**
   * What task `task` printed to stdout so far, or null if it printed nothing. Without `task`, a
   * multi-task job gives the output of every task that printed, in rank order, joined by a newline
   * (as submitit's job.stdout()); `job.stdout(t)` or `job.task(t).stdout()` give one task's.
   */
  stdout(task?: number): string | null {
    return this.#logs((t) => this.paths.stdout(t), task)
  }

  /** What task `task` printed to stderr so far (every task's without `task`, as stdout()). */
  stderr(task?: number): string | null {
    return this.#logs((t) => this.paths.stderr(t), task)
  }

  #logs(file: (task: number) => string, task: number | undefined): string | null {
    if (task !== undefined || this.numTasks === 1) return readIfExists(file(task ?? 0))
    const texts: string[] = []
    for (let t = 0; t < this.numTasks; t++) {
      const text = readIfExists(file(t))
      if (text !== null) texts.push(text)
    }
    return texts.length === 0 ? null : texts.join('\n')
  }

  /** The function and arguments this job was submitted with, read back from its submission file. */
  async submission(): Promise<JobSubmission> {
    const sub: SubmissionRecord = readSubmission(this.paths.submitted)
    if (sub.nonce !== this.nonce) throw new Error(`${this.paths.submitted} now holds another submission than job ${this.jobId}'s (its id was reused)`)
    const i = this.paths.index ?? 0
    const args = sub.marked ? ((await decodeValue(sub.args[i])) as unknown[]) : sub.args[i]
    return { task: sub.fns[sub.fnIndex[i]], args }
  }

  /** A view on one task of a multi-task job; task(0) of a single-task job is the job itself (as submitit's). */
  task(rank: number): JobTask<R> | Job<R> {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.numTasks) {
      throw new RangeError(`job ${this.jobId} has tasks 0..${this.numTasks - 1}, not ${rank}`)
    }
    return this.numTasks === 1 ? this : new JobTask(this, rank)
  }

  toString(): string {
    const reason = this.reason
    return `Job<${this.jobId}, ${this.state}${reason ? ` (${reason})` : ''}>`
  }
}

/** One task of a multi-task job: its own result, outcome and logs; the job's waiting and cancel. */
export class JobTask<R> {
  constructor(
    readonly job: Job<R>,
    readonly rank: number,
  ) {}
  get jobId(): string {
    return this.job.jobId
  }
  get paths(): JobPaths {
    return this.job.paths
  }
  /** the job's state while it runs; once it has ended, how this task ended */
  get state(): JobState {
    const own = this.job.done() ? this.job.peekOutcome(this.rank)?.outcome.state : undefined
    return own ?? this.job.state
  }
  get reason(): string | undefined {
    return this.job.reason
  }
  /** tasks end with their job */
  done(): boolean {
    return this.job.done()
  }
  wait(options?: WaitOptions): Promise<void> {
    return this.job.wait(options)
  }
  /** cancels the whole job: its tasks run as one */
  cancel(): Promise<void> {
    return this.job.cancel()
  }
  result(options?: WaitOptions): Promise<R> {
    return this.job.taskResult(this.rank, options)
  }
  /** this task's error, or null when it completed */
  async exception(options?: WaitOptions): Promise<FailedJobError | null> {
    try {
      await this.job.taskResult(this.rank, options)
      return null
    } catch (e) {
      if (e instanceof FailedJobError) return e
      throw e
    }
  }
  stdout(): string | null {
    return this.job.stdout(this.rank)
  }
  stderr(): string | null {
    return this.job.stderr(this.rank)
  }
  toString(): string {
    return `JobTask<${this.jobId}, task ${this.rank}, ${this.state}>`
  }
}

/** The last lines of a log file, or undefined when there is none. */
function logTail(file: string, lines = 20): string | undefined {
  const text = readIfExists(file)?.trimEnd()
  return text ? text.split('\n').slice(-lines).join('\n') : undefined
}

function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}
