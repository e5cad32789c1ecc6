// The worker entrypoint's core, the only code that runs inside a job: the pool threads, the
// DebugExecutor and the CLI on a Slurm node all call runTasks() over the same files.
import fs from 'node:fs'
import { cachedGet } from '../lib/core/cache.js'
import { JobEnvironment } from '../lib/core/environment.js'
import {
  encodeRecord, readSubmission, writeAtomic,
  type Outcome, type SubmissionRecord, encodeOutcome, resultRecord,
} from '../lib/core/format.js'
import { JobPaths, makeJobId, resultsPath } from '../lib/core/paths.js'
import { loadTask } from '../lib/core/task.js'
import { decodeValue, encodeValue } from '../lib/core/values.js'
import { captureOutput, type CaptureMode } from './capture.js'

/** Layout of `control`, shared with the LocalExecutor: */
export const CURRENT = 0 // index of the element running now, -1 between elements
export const FLUSHED = 1 // how many outcomes a dying thread saved to a partial result file
export const FLAGS = 2 // control[FLAGS + k]: one of the flags below, for element first+k
export const PENDING_FLAG = 0
export const CANCEL_FLAG = 1 // set by the executor: skip it
export const DONE_FLAG = 2 // set by the worker: it has run

export interface RunRequest {
  /** path of the <A>_submitted.v8 file */
  submitted: string
  /** run elements first .. first+count-1 */
  first: number
  count: number
  /** the task rank */
  task: number
  /** how to capture what tasks print: into their log files, also to the console, or not at all */
  capture: CaptureMode
  /** shared with the executor: see CURRENT, FLUSHED and FLAGS */
  control?: Int32Array
  /** shared with the executor: [0] Date.now() when the current element started */
  startedAt?: Float64Array
  /** values the executor passes for multi-node jobs (Slurm sets them itself) */
  node?: number
  localRank?: number
  /** the arguments to run with instead of the submission's (a checkpointed job's rerun) */
  args?: { args: unknown[]; marked: boolean }
  /** requeues so far (Slurm's SLURM_RESTART_COUNT) */
  restarts?: number
  /**
   * This thread or process runs only jobs (a pool thread, the CLI): an uncaught error fails the job
   * it came from, and an exit saves the outcomes so far before the thread goes.
   */
  guard?: boolean
}

export interface RunReply {
  /** the result file written */
  file: string
  /** its bytes, so the executor need not read the file back */
  bytes: Uint8Array
  /** how many elements failed, timed out or were cancelled */
  failures: number
  /** milliseconds spent running the elements (files excluded): the executor sizes chunks with it */
  runMs: number
}

// A pool thread runs many chunks of the same array: decode its submission once.
const submissions = new Map<string, SubmissionRecord>()
const submission = (file: string) => cachedGet(submissions, file, 4, readSubmission)

function errorOutcome(state: Exclude<Outcome['state'], 'COMPLETED'>, error: unknown): Outcome {
  return { state, error }
}

// The functions of a submission, imported once per thread
const loaded = new WeakMap<SubmissionRecord, ((...args: unknown[]) => unknown)[]>()
async function taskFunctions(sub: SubmissionRecord): Promise<((...args: unknown[]) => unknown)[]> {
  let fns = loaded.get(sub)
  if (!fns) {
    fns = await Promise.all(sub.fns.map((ref) => loadTask(ref)))
    loaded.set(sub, fns)
  }
  return fns
}

/** The chunk this thread is running, for the guards below. */
interface InFlight {
  req: RunRequest
  sub: SubmissionRecord
  outcomes: Outcome[]
  /** the element running now, how to fail it from an uncaught error, and what it runs */
  current: { jobId: string; fail: (e: unknown) => void; fn?: (...args: unknown[]) => unknown; args?: unknown[] } | null
}
let inFlight: InFlight | null = null

export async function runTasks(req: RunRequest): Promise<RunReply> {
  if (req.guard) installGuards()
  const sub = submission(req.submitted)
  let fns: ((...args: unknown[]) => unknown)[] | Error
  try {
    fns = await taskFunctions(sub)
  } catch (e) {
    fns = e as Error // each job fails with it, and says why
  }
  const run: InFlight = { req, sub, outcomes: [], current: null }
  inFlight = run
  const { control } = req
  const t0 = performance.now()
  try {
    for (let k = 0; k < req.count; k++) {
      const index = req.first + k
      const jobId = makeJobId(sub.arrayId, sub.isArray ? index : null)
      let outcome: Outcome | Promise<Outcome>
      if (req.startedAt) req.startedAt[0] = Date.now()
      // store the running index before reading the flag: a canceller does the reverse
      if (control) Atomics.store(control, CURRENT, index)
      if (control && Atomics.load(control, FLAGS + k) === CANCEL_FLAG) {
        outcome = errorOutcome('CANCELLED', Object.assign(new Error(`job ${jobId} was cancelled before it started`), { name: 'CancelledError' }))
      } else {
        outcome = runOne(sub, fns, index, jobId, req, run)
        if (outcome instanceof Promise) outcome = await outcome
        if (control) Atomics.store(control, FLAGS + k, DONE_FLAG)
      }
      run.current = null
      if (control) Atomics.store(control, CURRENT, -1)
      run.outcomes.push(outcome)
    }
    const runMs = performance.now() - t0
    const { file, bytes, failures } = writeResults(run)
    return { file, bytes, failures, runMs }
  } finally {
    inFlight = null
  }
}

/** The running chunk is given up (its job was requeued): exiting now writes no result for it. */
export function abandonRun(): void {
  inFlight = null
}

/** What the element running now runs, for a checkpoint (see worker/main.ts). */
export function runningTask(): { jobId: string; fn: (...args: unknown[]) => unknown; args: unknown[] } | undefined {
  const current = inFlight?.current
  return current?.fn && current.args ? { jobId: current.jobId, fn: current.fn, args: current.args } : undefined
}

/** Encodes the outcomes of a chunk (or of its first part) and writes them as one result file. */
function writeResults(run: InFlight): { file: string; bytes: Uint8Array; failures: number } {
  const { sub, req } = run
  const encoded: Outcome[] = []
  let marked = false
  let failures = 0
  run.outcomes.forEach((outcome, k) => {
    const enc = encodeOutcomeSafely(outcome, `the result of job ${makeJobId(sub.arrayId, sub.isArray ? req.first + k : null)}`)
    marked ||= enc.marked
    if (enc.outcome.state !== 'COMPLETED') failures++
    encoded.push(enc.outcome)
  })
  const n = encoded.length
  const bytes = encodeRecord(resultRecord(sub, req.first, req.task, encoded, marked))
  const file = resultsPath(sub.folder, sub.arrayId, sub.isArray, req.first, n, req.task)
  writeAtomic(file, bytes)
  return { file, bytes, failures }
}

let guarded = false

/**
 * An error thrown from a task's callback after the task returned its promise would kill the
 * thread (or process) and every result of the chunk with it: it fails the job it came from
 * instead (the async context tells which). A task calling process.exit still ends the thread,
 * but the outcomes so far are saved first, so only that job fails and nothing runs twice.
 */
function installGuards(): void {
  if (guarded) return
  guarded = true
  process.on('uncaughtException', (error) => {
    const run = inFlight
    const from = JobEnvironment.maybe()?.jobId
    if (run?.current && (from === undefined || from === run.current.jobId)) {
      run.current.fail(error)
    } else {
      process.stderr.write(`submitit-ts: an error was thrown by job ${from ?? '(unknown)'} after it had ended: ${error.stack ?? error}\n`)
    }
  })
  process.on('exit', (code) => {
    const run = inFlight
    if (!run?.current) return
    const paths = new JobPaths(run.sub.folder, run.current.jobId)
    run.outcomes.push(errorOutcome('FAILED', Object.assign(new Error(
      `the worker thread running job ${run.current.jobId} died: the task called process.exit(${code}). See its logs: ${paths.stderr(run.req.task)} and ${paths.stdout(run.req.task)}`,
    ), { name: 'WorkerCrashError' })))
    writeResults(run)
    if (run.req.control) Atomics.store(run.req.control, FLUSHED, run.outcomes.length)
  })
}

/** Runs one task; synchronous when the task is, so a chunk of trivial tasks awaits nothing. */
function runOne(sub: SubmissionRecord, fns: ((...args: unknown[]) => unknown)[] | Error, index: number, jobId: string, req: RunRequest, run: InFlight): Outcome | Promise<Outcome> {
  const { tasksPerNode, nodes } = sub.params
  const env = new JobEnvironment({
    backend: sub.backend, jobId, arrayJobId: sub.arrayId, arrayTaskId: sub.isArray ? index : null,
    numTasks: tasksPerNode * nodes, numNodes: nodes, node: req.node ?? Math.floor(req.task / tasksPerNode),
    globalRank: req.task, localRank: req.localRank ?? req.task % tasksPerNode, folderTemplate: sub.folder,
    restarts: req.restarts ?? 0,
  })
  const restore = captureOutput(req.capture, () => env.paths.stdout(req.task), () => env.paths.stderr(req.task))
  const failed = (error: unknown): Outcome => {
    if (error instanceof Error) {
      // the stack goes to the task's stderr log too (on a node: the Slurm log), as an uncaught error's would
      process.stderr.write(`${error.stack ?? error.message}\n`)
    }
    return errorOutcome('FAILED', error)
  }
  // an uncaught error from this task's callbacks ends it too (see installGuards)
  let crash: Promise<never> | undefined
  const awaitTask = (p: Promise<unknown>): Promise<Outcome> => {
    crash ??= new Promise<never>((_, reject) => { run.current = { ...run.current!, fail: reject } })
    return Promise.race([p, crash]).then((v) => ({ state: 'COMPLETED', value: v }) as Outcome, failed).finally(restore)
  }
  run.current = { jobId, fail: () => {} }
  let value: unknown
  try {
    if (fns instanceof Error) throw fns
    const fn = fns[sub.fnIndex[index]]
    const { args: given, marked } = req.args ?? { args: sub.args[index], marked: sub.marked }
    if (marked) {
      return awaitTask(decodeValue(given).then((args) => {
        run.current = { ...run.current!, fn, args: args as unknown[] }
        return env.run(() => fn(...args as unknown[]))
      }))
    }
    run.current.fn = fn
    run.current.args = given
    value = env.run(() => fn(...given))
  } catch (error) {
    const o = failed(error)
    restore()
    return o
  }
  if (value instanceof Promise || (typeof (value as PromiseLike<unknown>)?.then === 'function')) return awaitTask(Promise.resolve(value))
  restore()
  return { state: 'COMPLETED', value }
}

/** A result v8 cannot carry becomes a failure that says why, instead of a lost job. */
function encodeOutcomeSafely(outcome: Outcome, where: string): { outcome: Outcome; marked: boolean } {
  try {
    return encodeOutcome(outcome, where)
  } catch (e) {
    const failure = outcome.state === 'COMPLETED' ? e : sendableError(outcome.error, e as Error)
    return encodeOutcome(errorOutcome(outcome.state === 'COMPLETED' ? 'FAILED' : outcome.state, failure), where)
  }
}

/**
 * A thrown error with some property v8 cannot carry (HTTP clients' errors often hold functions):
 * keep its name, message, stack and every property that can be sent, and say what was left out.
 */
function sendableError(error: unknown, why: Error): Error {
  if (!(error instanceof Error)) return why
  const source = error as Error & Record<string, unknown>
  const copy = new Error(source.message) as Error & Record<string, unknown>
  copy.name = source.name
  copy.stack = source.stack
  const dropped: string[] = []
  const keys = [...Object.keys(source), ...('cause' in source ? ['cause'] : [])]
  for (const k of keys) {
    try {
      encodeValue(source[k], k)
      copy[k] = source[k]
    } catch {
      dropped.push(k)
    }
  }
  copy.unsendable = `left out, as they cannot be sent: ${dropped.join(', ')}`
  return copy
}

/** Used by the CLI: the submission may appear a moment after the job starts (see the Slurm backend). */
export async function waitForFile(file: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!fs.existsSync(file)) {
    if (Date.now() > end) throw new Error(`submission file ${file} did not appear within ${timeoutMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
