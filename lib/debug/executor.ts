// DebugExecutor: writes the same files as the others, but runs each job in this process, in this
// thread, when its result (or state, or wait) is first asked for: breakpoints in a task just work.
import { CommonParameters, Executor, type PreparedArray } from '../core/executor.js'
import { decodeResult, encodeRecord, makeFolder, outcomeAt, worstState, writeAtomic, type FinalState, type SubmissionRecord } from '../core/format.js'
import { Job, type JobState, type JobWatcher, type KnownOutcome } from '../core/job.js'
import { JobPaths, makeJobId, submittedPath } from '../core/paths.js'
import { runTasks } from '../../worker/run.js'
import { newArrayId } from '../local/ids.js'

export type DebugParameters = CommonParameters

class DebugWatcher implements JobWatcher {
  private readonly runs = new Map<string, Promise<void>>()
  private readonly states = new Map<string, JobState>()
  private readonly outcomes = new Map<string, KnownOutcome>()

  constructor(private readonly record: SubmissionRecord, private readonly file: string) {}

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

  private async run(job: Job<unknown>): Promise<void> {
    this.states.set(job.jobId, 'RUNNING')
    const states: FinalState[] = []
    for (let t = 0; t < job.numTasks; t++) {
      const reply = await runTasks({ submitted: this.file, first: job.paths.index ?? 0, count: 1, task: t, capture: 'tee' })
      const record = decodeResult(reply.bytes, reply.file)
      const outcome = outcomeAt(record, 0)!
      this.outcomes.set(`${job.jobId}/${t}`, { outcome, marked: record.marked })
      states.push(outcome.state)
    }
    this.states.set(job.jobId, worstState(states))
  }

  outcome(job: Job<unknown>, task: number): KnownOutcome | undefined {
    return this.outcomes.get(`${job.jobId}/${task}`)
  }

  async cancel(job: Job<unknown>): Promise<void> {
    if (this.runs.has(job.jobId)) return // running or done: in-process code cannot be stopped
    this.states.set(job.jobId, 'CANCELLED')
    const error = Object.assign(new Error(`job ${job.jobId} was cancelled before it started`), { name: 'CancelledError' })
    for (let t = 0; t < job.numTasks; t++) this.outcomes.set(`${job.jobId}/${t}`, { outcome: { state: 'CANCELLED', error }, marked: false })
    this.runs.set(job.jobId, Promise.resolve())
  }
}

export class DebugExecutor extends Executor<DebugParameters> {
  protected readonly parameterNames = ['timeoutMin', 'tasksPerNode', 'nodes'] as const

  constructor(options: { folder: string } & DebugParameters) {
    const { folder, ...params } = options
    super(folder, {}, 'debug')
    this.updateParameters(params)
  }

  protected async submitPrepared(prepared: PreparedArray, isArray: boolean): Promise<Job<unknown>[]> {
    const record: SubmissionRecord = { ...prepared, arrayId: newArrayId(), isArray, backend: 'debug', folder: this.folder }
    const file = submittedPath(this.folder, record.arrayId, isArray)
    makeFolder(new JobPaths(this.folder, record.arrayId).arrayFolder)
    writeAtomic(file, encodeRecord(record))
    const watcher = new DebugWatcher(record, file)
    const numTasks = record.params.tasksPerNode * record.params.nodes
    return record.args.map((_, i) => new Job(new JobPaths(this.folder, makeJobId(record.arrayId, isArray ? i : null)), numTasks, watcher, record.nonce))
  }

  async shutdown(): Promise<void> {}
}
