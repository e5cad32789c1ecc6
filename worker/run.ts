// The worker entrypoint's core, the only code that runs inside a job: the pool threads, the
// DebugExecutor and the CLI on a Slurm node all call runTasks() over the same files.
import fs from 'node:fs'
import v8 from 'node:v8'
import { threadId } from 'node:worker_threads'
import { cachedGet } from '../lib/core/cache.js'
import { JobEnvironment } from '../lib/core/environment.js'
import { decodeSubmission, encodeOutcome, readSubmission, writeResultFile, type Outcome, type SubmissionRecord } from '../lib/core/format.js'
import { JobPaths, makeJobId, resultsPath } from '../lib/core/paths.js'
import {
  awaitSubmission,
  CANCEL_FLAG,
  answerCheckpoint,
  claimResult,
  CURRENT,
  DONE_FLAG,
  endChunk,
  FLAGS,
  markFlushed,
  startChunk,
  storeOutcome,
  WARNED,
  type RunReply,
  type RunRequest,
} from '../lib/core/protocol.js'
import { readCheckpointOf, writeCheckpoint } from '../lib/core/checkpoint.js'
import { cancelledBeforeStart, WorkerCrashError } from '../lib/core/job-errors.js'
import { checkpointOf, loadingTasksForJobs, loadTask } from '../lib/core/task.js'
import { decodeValue, encodeValue, unsendableError } from '../lib/core/values.js'
import { captureOutput } from './capture.js'

// A pool thread runs many chunks of the same array: decode its submission once (from the bytes the
// executor sent along, else from its file).
const submissions = new Map<string, SubmissionRecord>()
const submission = (req: RunRequest) =>
  cachedGet(submissions, req.submitted, 4, (file) => (req.submission ? decodeSubmission(req.submission, file) : readSubmission(file)))

function errorOutcome(state: Exclude<Outcome['state'], 'COMPLETED'>, error: unknown): Outcome {
  return { state, error }
}

// The functions of a submission, imported once per thread (by module and name: an import() of a
// module already loaded still resolves its path, ~50 µs for each single job otherwise)
const loaded = new WeakMap<SubmissionRecord, ((...args: unknown[]) => unknown)[]>()
const functions = new Map<string, (...args: unknown[]) => unknown>()
async function taskFunctions(sub: SubmissionRecord, jobsOnly: boolean | undefined): Promise<((...args: unknown[]) => unknown)[]> {
  let fns = loaded.get(sub)
  if (!fns) {
    const load = () =>
      Promise.all(
        sub.fns.map(async (ref) => {
          const key = `${ref.module}#${ref.exportName}`
          let fn = functions.get(key)
          if (!fn) {
            fn = await loadTask(ref)
            functions.set(key, fn)
          }
          return fn
        }),
      )
    // a thread or process that only runs jobs: the import may make no executor (see loadingTasksForJobs)
    fns = jobsOnly ? await loadingTasksForJobs(load) : await load()
    loaded.set(sub, fns)
  }
  return fns
}

/** The chunk this thread is running, for the guards below. */
interface InFlight {
  req: RunRequest
  sub: SubmissionRecord
  /** the outcomes so far, encoded for v8 */
  outcomes: Outcome[]
  marked: boolean
  /** how many of them partial result files hold (see flush), and those files */
  flushed: number
  segments: string[]
  /** the arena is full and could not be flushed */
  arenaFull: boolean
  /** start and end (Date.now()) of each outcome's element, interleaved, for the result records */
  times: number[]
  /** the element running now, how to fail it from an uncaught error, and what it runs */
  current: { jobId: string; fail: (e: unknown) => void; fn?: (...args: unknown[]) => unknown; args?: unknown[] } | null
}
let inFlight: InFlight | null = null
/** The chunks running here without guards of their own (the DebugExecutor's, which may interleave): see failRunning. */
const unguarded = new Set<InFlight>()

export async function runTasks(req: RunRequest): Promise<RunReply> {
  if (req.guard) installGuards()
  const control = req.memory?.control
  // a chunk the executor stopped before it started never runs (see takeBackChunk)
  if (control && !startChunk(control, threadId)) throw new Error('this chunk was stopped before it started')
  try {
    return await runChunk(req, control)
  } finally {
    if (control) endChunk(control)
  }
}

async function runChunk(req: RunRequest, control: Int32Array | undefined): Promise<RunReply> {
  const sub = submission(req)
  if (req.nonce !== undefined && sub.nonce !== req.nonce) {
    throw new Error(`${req.submitted} holds another submission (nonce ${sub.nonce}) than the one expected (${req.nonce})`)
  }
  let fns: ((...args: unknown[]) => unknown)[] | Error
  try {
    fns = await taskFunctions(sub, req.guard)
  } catch (e) {
    fns = e as Error // each job fails with it, and says why
  }
  // the executor may still be writing the submission file (see awaitSubmission): no task runs before it is there
  if (control && !awaitSubmission(control)) throw new Error(`${req.submitted} could not be written: the submission was refused, nothing runs`)
  const run: InFlight = { req, sub, outcomes: [], marked: false, flushed: 0, segments: [], arenaFull: false, current: null, times: [] }
  inFlight = run
  if (!req.guard) unguarded.add(run)
  const t0 = performance.now()
  try {
    for (let k = 0; k < req.count; k++) {
      const index = req.first + k
      const jobId = makeJobId(sub.arrayId, sub.isArray ? index : null)
      let outcome: Outcome | Promise<Outcome>
      const started = Date.now()
      if (req.memory) req.memory.startedAt[0] = started
      // store the running index before reading the flag: a canceller does the reverse
      if (control) Atomics.store(control, CURRENT, index)
      const cancelled = control !== undefined && Atomics.load(control, FLAGS + k) === CANCEL_FLAG
      if (cancelled) {
        outcome = errorOutcome('CANCELLED', cancelledBeforeStart(jobId))
      } else {
        outcome = runOne(sub, fns, index, jobId, req, run)
        if (outcome instanceof Promise) outcome = await outcome
      }
      run.current = null
      run.times.push(started, Date.now()) // before keep(): it may flush
      keep(run, k, jobId, outcome)
      if (control) {
        if (!cancelled) Atomics.store(control, FLAGS + k, DONE_FLAG)
        Atomics.store(control, CURRENT, -1)
      }
    }
    const runMs = performance.now() - t0
    const { file, bytes, failures } = writeResults(run)
    return { file, bytes, failures, runMs }
  } finally {
    inFlight = null
    unguarded.delete(run)
  }
}

/**
 * Fails running job `jobId` with `error`, thrown by one of its task's callbacks or a rejection it left
 * unhandled, as the guards of a pool thread do (the DebugExecutor's, in the caller's thread). False
 * when it does not run here (any more).
 */
export function failRunning(jobId: string, error: unknown): boolean {
  for (const run of unguarded) {
    if (run.current?.jobId === jobId) {
      run.current.fail(error)
      return true
    }
  }
  return false
}

/**
 * Encodes element k's outcome and keeps it where the executor finds it should this thread be
 * terminated before the chunk ends (the arena; a partial result file when it is full), so that
 * what has run is never lost nor run again. A value v8 cannot send fails that element alone.
 */
function keep(run: InFlight, k: number, jobId: string, outcome: Outcome): void {
  const where = `the result of job ${jobId}`
  let enc = encodeOutcomeSafely(outcome, where)
  const memory = run.arenaFull ? undefined : run.req.memory
  let fits = true
  try {
    const value = enc.outcome.state === 'COMPLETED' ? enc.outcome.value : enc.outcome.error
    let bytes: Uint8Array | undefined
    if (typeof value === 'object' && value !== null && k < run.req.count - 1) {
      // the value as its task returned it: the chunk's next tasks may change it (a module's state it
      // points into) before the chunk's file is written
      bytes = v8.serialize(value)
      enc = { outcome: withValue(enc.outcome, v8.deserialize(bytes)), marked: enc.marked }
    }
    if (memory) fits = storeOutcome(memory, run.req.count, k, enc.outcome, enc.marked, bytes)
    else if (!bytes) checkSendable(enc.outcome)
  } catch (e) {
    enc = encodeOutcome(unsendableOutcome(outcome, where, e), where)
    if (memory) fits = storeOutcome(memory, run.req.count, k, enc.outcome, enc.marked)
  }
  run.outcomes.push(enc.outcome)
  run.marked ||= enc.marked
  // a chunk of one has nothing else to protect: its file comes next
  if (!fits && run.req.count > 1) flush(run)
}

function withValue(outcome: Outcome, value: unknown): Outcome {
  return outcome.state === 'COMPLETED' ? { state: 'COMPLETED', value } : { state: outcome.state, error: value }
}

/** Throws what v8 throws for a value it cannot send (storeOutcome does the same with an arena). */
function checkSendable(outcome: Outcome): void {
  const value = outcome.state === 'COMPLETED' ? outcome.value : outcome.error
  if (typeof value === 'object' && value !== null) v8.serialize(value)
}

/**
 * Writes the outcomes since the last flush as a partial result file (a segment of the chunk), and
 * tells the executor (FLUSHED). When it cannot be written, the arena is no longer used: what it
 * holds stays valid, what follows would run again should the thread be stopped.
 */
function flush(run: InFlight): void {
  const { sub, req } = run
  const from = run.flushed
  const to = run.outcomes.length
  if (from === to) return
  const file = resultsPath(sub.folder, sub.arrayId, sub.isArray, req.first + from, to - from, req.task)
  const { written, existed } = writeResultFile(
    sub,
    file,
    req.first + from,
    req.task,
    run.outcomes.slice(from),
    run.marked,
    run.times.slice(2 * from, 2 * to),
    req.exclusive,
  )
  if (existed) return // a packed element cancelled meanwhile: its result is the canceller's
  if (!written) {
    run.arenaFull = true
    return
  }
  run.segments.push(file)
  run.flushed = to
  if (req.memory) markFlushed(req.memory, req.count, from, to)
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file)
  } catch {
    /* already gone */
  }
}

/** The running chunk is given up (its job was requeued): exiting now writes no result for it. */
export function abandonRun(): void {
  inFlight = null
}

/** Writes the chunk's outcomes as one result file (its partial files removed). */
function writeResults(run: InFlight): { file: string; bytes: Uint8Array; failures: number } {
  const { sub, req } = run
  if (req.gated && req.memory) claimResult(req.memory.control)
  const file = resultsPath(sub.folder, sub.arrayId, sub.isArray, req.first, run.outcomes.length, req.task)
  const { record, bytes } = writeResultFile(sub, file, req.first, req.task, run.outcomes, run.marked, run.times, req.exclusive)
  for (const segment of run.segments) if (segment !== file) removeQuietly(segment)
  let failures = 0
  for (let k = 0; k < record.states.length; k++) if (record.states[k] !== 0) failures++
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
  // the event loop ran dry (not process.exit): a task whose promise waits on nothing can never end
  let drained = false
  process.on('beforeExit', () => {
    drained = true
  })
  process.on('exit', (code) => {
    const run = inFlight
    if (!run?.current) return
    const paths = new JobPaths(run.sub.folder, run.current.jobId)
    const why = drained
      ? "the task's promise never settled and it left nothing to wait for (no timer, I/O or message pending), so it could never end"
      : `the task called process.exit(${code})`
    const crash = encodeOutcome(
      errorOutcome(
        'FAILED',
        new WorkerCrashError(
          `the worker thread running job ${run.current.jobId} died: ${why}. See its logs: ${paths.stderr(run.req.task)} and ${paths.stdout(run.req.task)}`,
        ),
      ),
      'a crash',
    )
    run.outcomes.push(crash.outcome)
    run.marked ||= crash.marked
    if (run.req.gated && run.req.memory) claimResult(run.req.memory.control)
    flush(run)
  })
}

/** Runs one task; synchronous when the task is, so a chunk of trivial tasks awaits nothing. */
function runOne(
  sub: SubmissionRecord,
  fns: ((...args: unknown[]) => unknown)[] | Error,
  index: number,
  jobId: string,
  req: RunRequest,
  run: InFlight,
): Outcome | Promise<Outcome> {
  const { tasksPerNode, nodes } = sub.params
  const control = req.memory?.control
  let unwatch: (() => void) | undefined
  const warning = control && {
    warned: () => Atomics.load(control, WARNED) === index,
    watch: () => {
      unwatch ??= watchWarning(control, run, env, index)
    },
    checkpointed: () => answerCheckpoint(control, index, true),
  }
  const env = new JobEnvironment(
    {
      backend: sub.backend,
      jobId,
      arrayJobId: sub.arrayId,
      arrayTaskId: sub.isArray ? index : null,
      numTasks: tasksPerNode * nodes,
      numNodes: nodes,
      node: req.node ?? Math.floor(req.task / tasksPerNode),
      globalRank: req.task,
      localRank: req.localRank ?? req.task % tasksPerNode,
      folderTemplate: sub.folder,
      restarts: req.restarts ?? 0,
      nonce: sub.nonce,
    },
    warning,
  )
  const stopCapture = captureOutput(
    req.capture,
    () => env.paths.stdout(req.task),
    () => env.paths.stderr(req.task),
    sub.params.stderrToStdout,
  )
  const restore = () => {
    unwatch?.()
    stopCapture()
  }
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
    crash ??= new Promise<never>((_, reject) => {
      run.current = { ...run.current!, fail: reject }
    })
    if (sub.fns[sub.fnIndex[index]].checkpoint) warning?.watch()
    return Promise.race([p, crash])
      .then((v) => ({ state: 'COMPLETED', value: v }) as Outcome, failed)
      .finally(restore)
  }
  run.current = { jobId, fail: () => {} }
  let value: unknown
  try {
    if (fns instanceof Error) throw fns
    const fn = fns[sub.fnIndex[index]]
    const { args: stored, marked } = req.args ?? (req.resume ? resumeArgs(env) : undefined) ?? { args: sub.args[index], marked: sub.marked }
    // each job gets its own copy of its arguments, as a fresh process would: the decoded submission
    // is shared by the chunks of a thread, and may hold one object for many elements
    const given = hasObjects(stored) ? (v8.deserialize(v8.serialize(stored)) as unknown[]) : stored
    if (marked) {
      return awaitTask(
        decodeValue(given).then((args) => {
          run.current = { ...run.current!, fn, args: args as unknown[] }
          return env.run(() => fn(...(args as unknown[])))
        }),
      )
    }
    run.current.fn = fn
    run.current.args = given
    value = env.run(() => fn(...given))
  } catch (error) {
    const o = failed(error)
    restore()
    return o
  }
  if (value instanceof Promise || typeof (value as PromiseLike<unknown>)?.then === 'function') return awaitTask(Promise.resolve(value))
  restore()
  return { state: 'COMPLETED', value }
}

/** A requeued job runs with the arguments its checkpoint saved, if it saved any for this submission. */
function resumeArgs(env: JobEnvironment): { args: unknown[]; marked: boolean } | undefined {
  let saved: ReturnType<typeof readCheckpointOf>
  try {
    saved = readCheckpointOf(env.paths, env.nonce!)
  } catch (e) {
    process.stderr.write(`submitit-ts: job ${env.jobId} ignores its checkpoint ${env.paths.checkpoint}: ${(e as Error).message}\n`)
    return undefined // not one this version can read: the job starts from scratch
  }
  if (!saved) return undefined
  process.stderr.write(`submitit-ts: job ${env.jobId} resumes from its checkpoint of ${new Date(saved.at).toISOString()}\n`)
  return saved
}

/**
 * A job that will end is warned through the shared memory (WARNED): a local job past its time by the
 * executor, a Slurm job by the node's main thread on SIGUSR2. Its environment's signal is aborted, and
 * the task's checkpoint function, if any, is called with its arguments; the arguments it returns are
 * saved, and CHECKPOINTED tells the executor (or the node) to stop the job and requeue it. (A busy
 * synchronous task never lets this timer run: it is stopped after a grace, and requeued only from
 * what it saved itself with saveCheckpoint().) Runs only for tasks with a checkpoint, or that asked
 * for JobEnvironment.signal.
 */
function watchWarning(control: Int32Array, run: InFlight, env: JobEnvironment, index: number): () => void {
  const timer = setInterval(() => {
    if (Atomics.load(control, WARNED) !== index) return
    clearInterval(timer)
    env.notifyWarned()
    const running = run.current
    const checkpoint = running?.fn && checkpointOf(running.fn)
    if (!checkpoint) return
    env
      .run(() => Promise.resolve().then(() => checkpoint(...running.args!)))
      // a return that is not the arguments (or a file that cannot be written) fails the checkpoint as a throw does
      .then((args) => writeCheckpoint(env.paths, env.nonce!, args))
      .then(
        () => {
          process.stderr.write(`submitit-ts: job ${env.jobId} was warned of its end (time limit or preemption); checkpoint saved\n`)
          answerCheckpoint(control, index, true)
        },
        (e: Error) => {
          process.stderr.write(`submitit-ts: the checkpoint of job ${env.jobId} failed: ${e?.stack ?? e}\n`)
          answerCheckpoint(control, index, false) // nobody waits for it any longer
        },
      )
  }, WARNING_POLL_MS)
  return () => clearInterval(timer)
}

/** How often a checkpointable task's thread looks for a warning: cheap, and quick enough. */
const WARNING_POLL_MS = 50

function hasObjects(args: unknown[]): boolean {
  for (const a of args) if (typeof a === 'object' && a !== null) return true
  return false
}

/** A result v8 cannot carry becomes a failure that says why, instead of a lost job. */
function encodeOutcomeSafely(outcome: Outcome, where: string): { outcome: Outcome; marked: boolean } {
  try {
    return encodeOutcome(outcome, where)
  } catch (e) {
    return encodeOutcome(unsendableOutcome(outcome, where, e), where)
  }
}

/** A value that cannot be sent fails its job; an error that cannot be sent whole keeps what it can. */
function unsendableOutcome(outcome: Outcome, where: string, why: unknown): Outcome {
  return outcome.state === 'COMPLETED'
    ? errorOutcome('FAILED', unsendableError(outcome.value, where, why))
    : errorOutcome(outcome.state, sendableError(outcome.error, why as Error))
}

/**
 * A thrown error with some property v8 cannot carry (HTTP clients' errors often hold functions):
 * keep its name, message, stack and every property that can be sent, and say what was left out.
 */
function sendableError(error: unknown, why: Error): Error {
  if (!(error instanceof Error)) return unsendableError(error, 'the error thrown', why)
  const source = error as Error & Record<string, unknown>
  const copy = new Error(source.message) as Error & Record<string, unknown>
  copy.name = source.name
  copy.stack = source.stack
  const dropped: string[] = []
  const keys = [...Object.keys(source), ...('cause' in source ? ['cause'] : [])]
  for (const k of keys) {
    try {
      const { value } = encodeValue(source[k], k)
      if (typeof value === 'object' && value !== null) v8.serialize(value)
      copy[k] = source[k]
    } catch {
      dropped.push(k)
    }
  }
  copy.unsendable = `left out, as they cannot be sent: ${dropped.join(', ')}`
  return copy
}
