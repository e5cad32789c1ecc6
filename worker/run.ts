// The worker entrypoint's core, the only code that runs inside a job: the pool threads, the
// DebugExecutor and the CLI on a Slurm node all call runTasks() over the same files.
import fs from 'node:fs'
import { JobEnvironment } from '../lib/core/environment.js'
import {
  encodeRecord, readSubmission, writeAtomic,
  type Outcome, type SubmissionRecord, encodeOutcome, resultRecord,
} from '../lib/core/format.js'
import { chunkResultPath, JobPaths, makeJobId } from '../lib/core/paths.js'
import { loadTask } from '../lib/core/task.js'
import { decodeValue, encodeValue } from '../lib/core/values.js'
import { captureOutput, type CaptureMode } from './capture.js'

/** control[1 + k] values, shared with the LocalExecutor */
export const PENDING_FLAG = 0
export const CANCEL_FLAG = 1
export const DONE_FLAG = 2

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
  /**
   * Shared with the executor: [0] index of the element running now (-1 between tasks),
   * [1 + k] set to 1 to cancel element first+k before it starts.
   */
  control?: Int32Array
  /** shared with the executor: [0] Date.now() when the current element started */
  startedAt?: Float64Array
  /** values the executor passes for multi-node jobs (Slurm sets them itself) */
  node?: number
  localRank?: number
}

export interface RunReply {
  /** the result file written */
  file: string
  /** its bytes, so the executor need not read the file back */
  bytes: Uint8Array
  /** how many elements failed, timed out or were cancelled */
  failures: number
}

// A pool thread runs many chunks of the same array: decode its submission once.
const submissions = new Map<string, SubmissionRecord>()
function submission(file: string): SubmissionRecord {
  let s = submissions.get(file)
  if (!s) {
    s = readSubmission(file)
    if (submissions.size >= 4) submissions.delete(submissions.keys().next().value!)
    submissions.set(file, s)
  }
  return s
}

/** Drops the cached submission (a job re-run after a requeue reads its file afresh). */
export function forgetSubmission(file: string): void {
  submissions.delete(file)
}

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

export async function runTasks(req: RunRequest): Promise<RunReply> {
  const sub = submission(req.submitted)
  let fns: ((...args: unknown[]) => unknown)[] | Error
  try {
    fns = await taskFunctions(sub)
  } catch (e) {
    fns = e as Error // each job fails with it, and says why
  }
  const outcomes: Outcome[] = []
  let marked = false
  let failures = 0
  for (let k = 0; k < req.count; k++) {
    const index = req.first + k
    const jobId = makeJobId(sub.arrayId, sub.isArray ? index : null)
    let outcome: Outcome | Promise<Outcome>
    if (req.startedAt) req.startedAt[0] = Date.now()
    // store the running index before reading the flag: a canceller does the reverse
    if (req.control) Atomics.store(req.control, 0, index)
    if (req.control && Atomics.load(req.control, 1 + k) === CANCEL_FLAG) {
      outcome = errorOutcome('CANCELLED', Object.assign(new Error(`job ${jobId} was cancelled before it started`), { name: 'CancelledError' }))
    } else {
      outcome = runOne(sub, fns, index, jobId, req)
      if (outcome instanceof Promise) outcome = await outcome
      if (req.control) Atomics.store(req.control, 1 + k, DONE_FLAG)
    }
    if (req.control) Atomics.store(req.control, 0, -1)
    const enc = encodeOutcomeSafely(outcome, `the result of job ${jobId}`)
    marked ||= enc.marked
    if (enc.outcome.state !== 'COMPLETED') failures++
    outcomes.push(enc.outcome)
  }
  const bytes = encodeRecord(resultRecord(sub.arrayId, req.first, req.task, outcomes, marked))
  const file = req.count === 1
    ? new JobPaths(sub.folder, makeJobId(sub.arrayId, sub.isArray ? req.first : null)).resultFile(req.task)
    : chunkResultPath(sub.folder, sub.arrayId, req.first, req.first + req.count - 1, req.task)
  writeAtomic(file, bytes)
  return { file, bytes, failures }
}

/** Runs one task; synchronous when the task is, so a chunk of trivial tasks awaits nothing. */
function runOne(sub: SubmissionRecord, fns: ((...args: unknown[]) => unknown)[] | Error, index: number, jobId: string, req: RunRequest): Outcome | Promise<Outcome> {
  const { tasksPerNode, nodes } = sub.params
  const env = new JobEnvironment({
    backend: sub.backend, jobId, arrayJobId: sub.arrayId, arrayTaskId: sub.isArray ? index : null,
    numTasks: tasksPerNode * nodes, numNodes: nodes, node: req.node ?? Math.floor(req.task / tasksPerNode),
    globalRank: req.task, localRank: req.localRank ?? req.task % tasksPerNode, folderTemplate: sub.folder,
  })
  const restore = captureOutput(req.capture, () => env.paths.stdout(req.task), () => env.paths.stderr(req.task))
  const failed = (error: unknown): Outcome => {
    if (error instanceof Error) {
      // the stack goes to the task's stderr log too (on a node: the Slurm log), as an uncaught error's would
      process.stderr.write(`${error.stack ?? error.message}\n`)
    }
    return errorOutcome('FAILED', error)
  }
  let value: unknown
  try {
    if (fns instanceof Error) throw fns
    const fn = fns[sub.fnIndex[index]]
    if (sub.marked) {
      return decodeValue(sub.args[index]).then((args) => env.run(() => fn(...args as unknown[])))
        .then((v) => ({ state: 'COMPLETED', value: v }) as Outcome, failed).finally(restore)
    }
    const args = sub.args[index]
    value = env.run(() => fn(...args))
  } catch (error) {
    const o = failed(error)
    restore()
    return o
  }
  if (value instanceof Promise || (typeof (value as PromiseLike<unknown>)?.then === 'function')) {
    return Promise.resolve(value).then((v) => ({ state: 'COMPLETED', value: v }) as Outcome, failed).finally(restore)
  }
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
