// LocalExecutor: jobs run on a piscina pool of worker threads, through the same worker entrypoint
// and files as on a cluster. Files cost ~1 ms each while a pool task costs ~20 µs, so an array is
// sent to the pool in chunks: one submission file per array and one result file per chunk. A chunk
// is sized from the measured task duration (about CHUNK_TARGET_MS of work), so long tasks run one per
// call and trivial ones a thousand per call.
import type { ChildProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { ParameterError } from '../core/errors.js'
import { Executor, type PreparedArray } from '../core/executor.js'
import { makeFolderBeforeWrite, writeAtomic, type SubmissionRecord } from '../core/format.js'
import type { Job } from '../core/job.js'
import { Heartbeat, writeRunning } from '../core/owner.js'
import { runningPath, submittedPath } from '../core/paths.js'
import { checkpointAnswer, CURRENT, takeBackChunk, WARNED, type RunRequest } from '../core/protocol.js'
import { GroupKiller } from '../helpers/process-group.js'
import { LocalArray, type Chunk, type ChunkRunner } from './array.js'
import { ChunkStop, type JobPool, jobPool, threadExited } from './pool.js'
import { runInProcess } from './process.js'
import { LOCAL_PARAMETER_NAMES, LOCAL_PARAMETERS, type LocalParameters } from './params.js'
import { newArrayId } from '../core/ids.js'

export type { LocalParameters } from './params.js'

function writeSubmission(file: string, bytes: Uint8Array): void {
  makeFolderBeforeWrite(path.dirname(file))
  writeAtomic(file, bytes)
}

const WATCHDOG_MS = 100
/** submissions up to this size are sent with each chunk (a copy per chunk), larger ones read from their file once per thread */
const SEND_SUBMISSION_MAX = 64 << 10
/**
 * How long the rescue of a stopped chunk waits for its thread to be gone. A thread running JavaScript
 * goes within milliseconds; one blocked in a system call (execSync) writes nothing until it returns,
 * and then ends at once: its job's TIMEOUT or CANCELLED does not wait for the call.
 */
const STOPPED_THREAD_WAIT_MS = 1_000
/** how often an active array's <A>_running.json is brought up to date (see publishWhileActive) */
const RUNNING_PUBLISH_MS = 250
/** how long a warned task may take to save its checkpoint before its thread is stopped anyway */
const CHECKPOINT_GRACE_MS = 5_000

export class LocalExecutor extends Executor<LocalParameters> {
  protected readonly parameterNames = LOCAL_PARAMETER_NAMES
  protected override readonly parameterSchema = LOCAL_PARAMETERS
  /** submitPrepared encodes the submission before it waits: arguments need no copy at the call */
  protected override readonly encodesAtOnce = true
  private pool: JobPool | null = null
  /** arrays with work left, oldest first: their chunks go to the pool in that order */
  private readonly active = new Set<LocalArray>()
  private readonly running = new Set<Chunk>()
  /** each running chunk's end (its result or its rescue written): shutdown waits for them */
  private readonly settling = new Set<Promise<void>>()
  private watchdog: NodeJS.Timeout | null = null
  /** tells other processes that this one still runs its arrays (see lib/core/owner.ts) */
  private readonly heartbeat = new Heartbeat()
  /** the timer of publishWhileActive */
  private publishing: NodeJS.Timeout | null = null
  /** what each array's <A>_running.json last said (written again only when it changes) */
  private readonly published = new WeakMap<LocalArray, string>()
  /** what the arrays see of this executor (kept off its public surface) */
  readonly #runner: ChunkRunner
  /** process groups of commands that jobs on the pool threads run (see lib/helpers/process-group.ts) */
  private readonly groups = new GroupKiller()
  /** the processes of running jobs (isolation: 'process'), killed when this process exits */
  private readonly children = new Set<ChildProcess>()

  constructor(options: { folder: string } & LocalParameters) {
    const { folder, ...params } = options
    super(folder, { maxWorkers: os.availableParallelism() }, 'local')
    const executor = this
    this.#runner = {
      get arrayParallelism() {
        return Math.min(executor.params.arrayParallelism ?? Infinity, executor.params.maxWorkers!)
      },
      get maxNumTimeout() {
        return executor.params.maxNumTimeout ?? 3
      },
      get isolated() {
        return executor.isolated
      },
      taskTimes: new Map(),
      // a first guess until chunks come back
      chunkOverheadMs: 0.2,
      stop: (chunk, why, index) => this.stop(chunk, why, index),
      schedule: () => this.schedule(),
    }
    this.updateParameters(params)
  }

  protected override checkParameter(name: string, value: unknown): void {
    super.checkParameter(name, value) // the schema: lib/local/params.ts
    if (name === 'maxWorkers' && this.pool) throw new ParameterError('maxWorkers cannot change once the pool has started; create another LocalExecutor')
  }

  protected async submitPrepared(prepared: PreparedArray, isArray: boolean): Promise<Job<unknown>[]> {
    const record: SubmissionRecord = { ...prepared, arrayId: newArrayId(), isArray, backend: 'local', folder: this.folder }
    const file = submittedPath(this.folder, record.arrayId, isArray)
    const bytes = this.encodeSubmission(record) // refused here when over maxSubmissionSizeGb
    // a small submission travels with its chunks: a pool thread need not read the file back, and its
    // first chunks go out before the file is written, to wake their threads meanwhile (see awaitSubmission)
    const sent = bytes.byteLength <= SEND_SUBMISSION_MAX ? bytes : undefined
    const early = sent !== undefined && !this.isolated
    if (!early) writeSubmission(file, bytes)
    const array = new LocalArray(record, file, this.#runner, sent, early)
    this.active.add(array)
    this.schedule()
    if (early) {
      try {
        writeSubmission(file, bytes)
      } catch (e) {
        this.active.delete(array)
        array.abandon() // its chunks run nothing
        throw e
      }
      array.submissionWritten()
    }
    this.heartbeat.add(file)
    this.publishWhileActive()
    return array.jobs
  }

  private getPool(): JobPool {
    this.pool ??= jobPool(this.params.maxWorkers!)
    return this.pool
  }

  /** Keeps two chunks per thread in flight: enough to hide the round trip, not a flood. */
  private schedule(): void {
    // a job's own process starts at once: no more than there are workers
    const limit = this.params.maxWorkers! * (this.isolated ? 1 : 2)
    while (this.running.size < limit) {
      let chunk: Chunk | null = null
      for (const array of this.active) {
        if (array.finished) {
          this.active.delete(array)
          this.heartbeat.delete(array.file)
          continue
        }
        if (array.running < array.parallelism && (chunk = array.take())) break
      }
      if (!chunk) break
      this.start(chunk)
    }
    this.updateWatchdog()
  }

  /** Each job in a process of its own (isolation: 'process'): one element per chunk. */
  private get isolated(): boolean {
    return this.params.isolation === 'process'
  }

  private start(chunk: Chunk): void {
    this.running.add(chunk)
    chunk.array.running++
    chunk.abort = new ChunkStop()
    chunk.sentAt = performance.now()
    const req: RunRequest = {
      submitted: chunk.array.file,
      submission: chunk.array.submissionBytes,
      first: chunk.first,
      count: chunk.count,
      task: chunk.task,
      capture: 'files',
      memory: chunk.memory,
      guard: true,
      resume: chunk.resume !== undefined,
      restarts: chunk.resume?.restarts,
    }
    const pool = this.isolated ? undefined : this.getPool()
    const run = pool ? pool.run(req, { signal: chunk.abort }) : runInProcess(chunk, req, this.params, this.children)
    const settled = run
      .then(
        (reply) => this.finish(chunk, () => chunk.array.completed(chunk, reply)),
        async (error: unknown) => {
          // commands the stopped thread started (runCommand) go with it, even before their watchdog runs
          const ids = new Set(chunk.array.jobs.slice(chunk.first, chunk.first + chunk.count).map((j) => j.jobId))
          this.groups.killJobs((jobId) => ids.has(jobId))
          // the call fails as soon as the thread is told to stop: what it saved is read once it is gone
          const thread = pool ? takeBackChunk(chunk.memory.control) : undefined
          if (thread !== undefined && pool) await threadExited(pool, thread, STOPPED_THREAD_WAIT_MS)
          this.finish(chunk, () => chunk.array.interrupted(chunk, error, thread))
        },
      )
      .finally(() => this.settling.delete(settled))
    this.settling.add(settled)
  }

  private finish(chunk: Chunk, report: () => void): void {
    this.running.delete(chunk)
    chunk.array.running--
    try {
      report()
    } catch (error) {
      // never the caller's process: the chunk's jobs without an outcome fail with it
      chunk.array.failUnfinished(chunk, error)
    }
    this.schedule()
  }

  /** Stops the chunk's thread (the running task cannot be interrupted otherwise). */
  private stop(chunk: Chunk, why: 'TIMEOUT' | 'CANCELLED', index: number): void {
    if (chunk.stopReason) return
    chunk.stopReason = why
    chunk.stopTarget = index
    chunk.abort?.abort()
  }

  private updateWatchdog(): void {
    const needed = [...this.running].some((c) => c.array.timeoutMs !== undefined)
    if (needed && !this.watchdog) {
      this.watchdog = setInterval(() => this.checkTimeouts(), WATCHDOG_MS)
      this.watchdog.unref()
    } else if (!needed && this.watchdog) {
      clearInterval(this.watchdog)
      this.watchdog = null
    }
  }

  /**
   * Stops an element past its time. One with a checkpoint function is warned first (WARNED): it is
   * stopped once its checkpoint is saved, or after a grace if it cannot answer (a busy thread).
   */
  private checkTimeouts(): void {
    const now = Date.now()
    for (const chunk of this.running) {
      const limit = chunk.array.timeoutMs
      if (limit === undefined || chunk.stopReason) continue
      const { control, startedAt } = chunk.memory
      const current = Atomics.load(control, CURRENT)
      if (current < 0 || now - startedAt[0] <= limit) continue
      if (chunk.array.checkpointable(current)) {
        if (chunk.warned?.index !== current) {
          chunk.warned = { index: current, at: now }
          Atomics.store(control, WARNED, current)
          chunk.warn?.(current) // a job's own process does not share our memory: tell it
          continue
        }
        if (checkpointAnswer(control, current) === undefined && now - chunk.warned.at < CHECKPOINT_GRACE_MS) continue
      }
      this.stop(chunk, 'TIMEOUT', current)
    }
  }

  /**
   * While arrays are active, what runs is looked at every RUNNING_PUBLISH_MS (the element a chunk is
   * at moves in its thread, unseen here) and published when it changed, off the jobs' own path (a
   * file write costs a single job a tenth of its time).
   */
  private publishWhileActive(): void {
    if (this.publishing) return
    this.publishing = setInterval(() => {
      if (this.active.size > 0) return this.publishRunning()
      clearInterval(this.publishing!)
      this.publishing = null
    }, RUNNING_PUBLISH_MS)
    this.publishing.unref()
  }

  /**
   * Which elements of each array run now (the element each running chunk is at), for other processes
   * (attachJob, the command line), which see the jobs without a result as queued unless they are
   * listed there. Written only when it changed, and only for an array some of whose jobs wait in the
   * queue (or that said so before): one whose every unfinished job runs is RUNNING without it.
   */
  private publishRunning(): void {
    // by array: the elements its chunks are at, and how many of its tasks run or are about to (a chunk
    // of one just sent: a single job starting; a job of several tasks runs in a chunk each)
    const running = new Map<LocalArray, { indices: Set<number>; tasks: number }>()
    for (const chunk of this.running) {
      const index = Atomics.load(chunk.memory.control, CURRENT)
      if (index < 0 && chunk.count > 1) continue
      let r = running.get(chunk.array)
      if (!r) running.set(chunk.array, (r = { indices: new Set(), tasks: 0 }))
      if (index >= 0) r.indices.add(index)
      r.tasks++
    }
    for (const array of this.active) {
      if (array.finished) continue
      const r = running.get(array)
      const indices = r ? [...r.indices].sort((a, b) => a - b) : []
      const key = indices.join(',')
      const before = this.published.get(array)
      if (before === key || (before === undefined && array.unfinishedTasks <= (r?.tasks ?? 0))) continue
      this.published.set(array, key)
      const { folder, arrayId, isArray, nonce } = array.record
      writeRunning(runningPath(folder, arrayId, isArray), nonce, indices)
    }
  }

  /** Cancels every unfinished job and terminates the pool threads. */
  async shutdown(): Promise<void> {
    const arrays = [...this.active]
    this.active.clear()
    for (const array of arrays) array.cancelAll()
    if (this.watchdog) clearInterval(this.watchdog)
    if (this.publishing) clearInterval(this.publishing)
    this.publishing = null
    this.watchdog = null
    this.heartbeat.stop()
    this.groups.close()
    const pool = this.pool
    this.pool = null
    await pool?.destroy()
    // the stopped chunks write what they had finished, and their stopped element's outcome, as they
    // settle: once shutdown resolves, nothing more is written in the folder
    await Promise.allSettled([...this.settling])
  }
}
