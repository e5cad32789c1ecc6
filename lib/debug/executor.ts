// DebugExecutor: writes the same files as the others, but runs each job in this process, in this
// thread, when its result (or wait, or done()) is first asked for: breakpoints in a task just work.
// A job nobody asks for stays PENDING. A task running in this thread cannot be stopped, so
// timeoutMin is refused rather than silently ignored.
import { Executor, type PreparedArray } from '../core/executor.js'
import { observeThrown } from '../core/environment.js'
import { decodeResult, makeFolder, outcomeAt, worstState, writeAtomic, type FinalState, type SubmissionRecord } from '../core/format.js'
import { newArrayId } from '../core/ids.js'
import { cancelledBeforeStart } from '../core/job-errors.js'
import { Job, type JobState, type JobWatcher, type KnownOutcome } from '../core/job.js'
import { Heartbeat } from '../core/owner.js'
import { JobPaths, makeJobId, submittedPath } from '../core/paths.js'
import { failRunning, runTasks } from '../../worker/run.js'
import { JobEnvironment } from '../core/environment.js'
import { DEBUG_PARAMETER_NAMES, DEBUG_PARAMETERS, type DebugParameters } from './params.js'

export type { DebugParameters } from './params.js'

/**
 * While debug jobs run (in this thread), an error thrown by one of their task's callbacks, or a
 * rejection one left unhandled, fails that job, as it fails a job on a pool thread or a node, instead
 * of taking the caller's process down. Errors from anything else are handled as they would be without
 * these listeners: by the caller's own listeners if it has some, else as Node does.
 */
let runningJobs = 0
function guardJobs(): () => void {
  if (runningJobs++ === 0) {
    process.on('uncaughtException', onJobError)
    process.on('unhandledRejection', onJobRejection)
  }
  return () => {
    if (--runningJobs === 0) unguard()
  }
}
function unguard(): void {
  process.removeListener('uncaughtException', onJobError)
  process.removeListener('unhandledRejection', onJobRejection)
}
/** Whether it came from a debug job (its async context tells), which it fails (or outlived). */
function fromJob(error: unknown): boolean {
  const jobId = JobEnvironment.maybe()?.jobId
  if (jobId === undefined) return false
  if (!failRunning(jobId, error)) {
    process.stderr.write(`submitit-ts: an error was thrown by job ${jobId} after it had ended: ${(error as Error)?.stack ?? error}\n`)
  }
  return true
}
function onJobError(error: Error): void {
  if (fromJob(error) || process.listenerCount('uncaughtException') > 1) return
  // not a job's, and nobody else listens: what Node does without a listener
  unguard()
  process.nextTick(() => {
    throw error
  })
}
function onJobRejection(reason: unknown): void {
  if (fromJob(reason) || process.listenerCount('unhandledRejection') > 1) return
  const mode = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].find((a) => a.startsWith('--unhandled-rejections='))?.split('=')[1]
  if (mode === 'none' || mode === 'warn') return // Node warns by itself in 'warn' mode
  if (mode === 'warn-with-error-code') {
    process.emitWarning(`Unhandled promise rejection: ${(reason as Error)?.stack ?? reason}`, 'UnhandledPromiseRejectionWarning')
    process.exitCode = 1
    return
  }
  unguard()
  process.nextTick(() => {
    throw reason instanceof Error ? reason : new Error(`a promise was rejected with ${String(reason)} and nobody handled it`)
  })
}

class DebugWatcher implements JobWatcher {
  private readonly runs = new Map<string, Promise<void>>()
  private readonly states = new Map<string, JobState>()
  private readonly outcomes = new Map<string, KnownOutcome>()

  /** jobs not final yet: the owner's heartbeat goes on while there are some */
  private unfinished: number

  constructor(
    private readonly file: string,
    size: number,
    private readonly heartbeat: Heartbeat,
  ) {
    this.unfinished = size
    heartbeat.add(file)
  }

  private ended(job: Job<unknown>, state: JobState): void {
    this.states.set(job.jobId, state)
    if (--this.unfinished === 0) this.heartbeat.delete(this.file)
  }

  state(job: Job<unknown>): JobState {
    return this.states.get(job.jobId) ?? 'PENDING'
  }

  /** Runs the job (every task, one after the other) the first time anyone waits for it. */
  waitFinal(job: Job<unknown>): Promise<void> {
    let run = this.runs.get(job.jobId)
    if (!run) {
      run = this.run(job)
      this.runs.set(job.jobId, run)
    }
    return run
  }

  /** Polling done() runs the job too, as submitit's DebugJob does. */
  poll(job: Job<unknown>): void {
    void this.waitFinal(job)
  }

  private async run(job: Job<unknown>): Promise<void> {
    this.states.set(job.jobId, 'RUNNING')
    const unguardJob = guardJobs()
    try {
      await this.runTasks(job)
    } finally {
      unguardJob()
    }
  }

  private async runTasks(job: Job<unknown>): Promise<void> {
    const states: FinalState[] = []
    for (let t = 0; t < job.numTasks; t++) {
      let known: KnownOutcome
      try {
        // what the task throws is kept as it is (its class, its methods), as submitit's debug jobs do;
        // the result file is written as on every backend
        let thrown: { error: unknown } | undefined
        const reply = await observeThrown(
          (error) => {
            thrown = { error }
          },
          () => runTasks({ submitted: this.file, nonce: job.nonce, first: job.paths.index ?? 0, count: 1, task: t, capture: 'tee' }),
        )
        const record = decodeResult(reply.bytes, reply.file)
        known = { outcome: outcomeAt(record, 0)!, marked: record.marked }
        if (thrown && known.outcome.state === 'FAILED') known = { outcome: { state: 'FAILED', error: thrown.error }, marked: false }
      } catch (error) {
        // the worker could not even start the job (its submission unreadable...): it fails, never hangs
        known = { outcome: { state: 'FAILED', error }, marked: false }
      }
      this.outcomes.set(`${job.jobId}/${t}`, known)
      states.push(known.outcome.state)
    }
    this.ended(job, worstState(states))
  }

  outcome(job: Job<unknown>, task: number): KnownOutcome | undefined {
    return this.outcomes.get(`${job.jobId}/${task}`)
  }

  async cancel(job: Job<unknown>): Promise<void> {
    if (this.runs.has(job.jobId)) return // running or done: in-process code cannot be stopped
    this.ended(job, 'CANCELLED')
    const error = cancelledBeforeStart(job.jobId)
    for (let t = 0; t < job.numTasks; t++) this.outcomes.set(`${job.jobId}/${t}`, { outcome: { state: 'CANCELLED', error }, marked: false })
    this.runs.set(job.jobId, Promise.resolve())
  }
}

export class DebugExecutor extends Executor<DebugParameters> {
  protected readonly parameterNames = DEBUG_PARAMETER_NAMES
  protected override readonly parameterSchema = DEBUG_PARAMETERS
  /** submitPrepared encodes the submission before it waits: arguments need no copy at the call */
  protected override readonly encodesAtOnce = true
  private readonly heartbeat = new Heartbeat()

  constructor(options: { folder: string } & DebugParameters) {
    const { folder, ...params } = options
    super(folder, {}, 'debug')
    this.updateParameters(params)
  }

  protected async submitPrepared(prepared: PreparedArray, isArray: boolean): Promise<Job<unknown>[]> {
    const record: SubmissionRecord = { ...prepared, arrayId: newArrayId(), isArray, backend: 'debug', folder: this.folder }
    const file = submittedPath(this.folder, record.arrayId, isArray)
    const bytes = this.encodeSubmission(record) // refused here when over maxSubmissionSizeGb
    makeFolder(new JobPaths(this.folder, record.arrayId).arrayFolder)
    writeAtomic(file, bytes)
    const watcher = new DebugWatcher(file, record.args.length, this.heartbeat)
    const numTasks = record.params.tasksPerNode * record.params.nodes
    return record.args.map((_, i) => new Job(new JobPaths(this.folder, makeJobId(record.arrayId, isArray ? i : null)), numTasks, watcher, record.nonce))
  }

  async shutdown(): Promise<void> {
    this.heartbeat.stop()
  }
}
