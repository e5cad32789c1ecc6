// One submitted array on the LocalExecutor: cuts it into chunks, tracks each job's state, and is
// the JobWatcher of its jobs. Element i's task t is slot t * size + i.
import fs from 'node:fs'
import {
  decodeResult,
  encodeOutcome,
  FINAL_STATES,
  readResult,
  worstState,
  writeResultFile,
  type ElementTimes,
  type FinalState,
  type Outcome,
  type ResultRecord,
  type SubmissionRecord,
} from '../core/format.js'
import { readCheckpointOf } from '../core/checkpoint.js'
import { CancelledError, cancelledBeforeStart, ResultWriteError, TimeoutError, WorkerCrashError } from '../core/job-errors.js'
import { Job, type JobState, type JobWatcher, type KnownOutcome } from '../core/job.js'
import { JobPaths, makeJobId, resultsPath } from '../core/paths.js'
import type { ChunkStop } from './pool.js'
import {
  CANCEL_FLAG,
  chunkMemory,
  CURRENT,
  DONE_FLAG,
  FLAGS,
  FLUSHED,
  flushedSegments,
  PENDING_FLAG,
  settleSubmission,
  storedOutcomes,
  SUBMISSION,
  SUBMISSION_PENDING,
  type ChunkMemory,
} from '../core/protocol.js'

/** Work a chunk should hold, so that one pool call outweighs its file and message costs. */
const CHUNK_TARGET_MS = 50
const MAX_CHUNK = 1024
/**
 * Until an array's first chunk returns, a time remembered from an earlier array sizes its chunks, to
 * at most this much remembered work (and at least FIRST_CHUNK_FROM_MEMORY elements): these arguments
 * may take longer.
 */
const FIRST_CHUNK_FROM_MEMORY = 64
const FIRST_CHUNK_MEMORY_MS = 1

export interface Chunk {
  array: LocalArray
  first: number
  count: number
  task: number
  /** shared with the worker: see lib/core/protocol.ts */
  memory: ChunkMemory
  /** set once the chunk is sent to the pool (or its process): stops it */
  abort?: ChunkStop
  stopReason?: 'TIMEOUT' | 'CANCELLED'
  stopTarget?: number
  /** a requeued job: its one element runs from its checkpoint, for the restarts-th time */
  resume?: { restarts: number }
  /** performance.now() when it was sent to the pool */
  sentAt?: number
  /** the element warned that it is past its time (see WARNED), and when */
  warned?: { index: number; at: number }
  /** tells a job's own process of a warning (isolation: 'process': no shared memory) */
  warn?: (index: number) => void
}

/** What the array needs from its executor. */
export interface ChunkRunner {
  readonly arrayParallelism: number
  /** what earlier arrays of the same task measured, so that a new one need not probe again */
  readonly taskTimes: Map<string, number>
  stop(chunk: Chunk, why: 'TIMEOUT' | 'CANCELLED', index: number): void
  schedule(): void
  /** requeues a job past its time may have, from its checkpoint (submitit's max_num_timeout) */
  readonly maxNumTimeout: number
  /** each job in a process of its own: chunks of one element */
  readonly isolated: boolean
  /**
   * What a chunk costs beyond its tasks (its result file, the messages), in ms, as measured: a chunk
   * holding less work than that costs more than it saves in balance between threads.
   */
  chunkOverheadMs: number
}

export class LocalArray implements JobWatcher {
  readonly jobs: Job<unknown>[]
  readonly size: number
  readonly numTasks: number
  readonly parallelism: number
  readonly timeoutMs: number | undefined
  running = 0
  /** 1 + the FINAL_STATES index of each slot's outcome, 0 while unfinished */
  private readonly codes: Uint8Array
  /** each slot's value or error, and whether it holds markers */
  private readonly values: unknown[]
  private readonly marked: Uint8Array
  /** slots cancelled here while their chunk runs, whose result file its worker is to write */
  private readonly unwritten: Uint8Array
  /** shut down: the elements not run yet are cancelled, none starts */
  private closed = false
  /** how many times each slot was requeued from its checkpoint after passing its time */
  private readonly restarts: Uint8Array
  /** the chunk a slot was last sent in */
  private readonly chunkOf: (Chunk | undefined)[]
  /** next element not yet cut into a chunk, per task */
  private readonly next: number[]
  private readonly retries: Chunk[] = []
  private unfinished: number
  /** measured milliseconds per element; undefined until a chunk returns */
  private msPerElement: number | undefined
  /** whether a chunk of this array has come back (msPerElement may come from an earlier array) */
  private measured = false
  /** the key of taskTimes for this array's task (arrays of several tasks are measured afresh) */
  private readonly timeKey: string | undefined
  /** by element: a promise someone awaits (an array, not a Map: 100k of them is common) */
  private readonly waiters: ({ promise: Promise<void>; resolve: () => void } | undefined)[] = []
  /** while the submission file is being written: the chunks made meanwhile, which wait for it */
  private awaitingFile: Chunk[] | undefined
  /** its submission file could not be written: the submit failed, nothing runs */
  private abandoned = false

  constructor(
    readonly record: SubmissionRecord,
    readonly file: string,
    private readonly runner: ChunkRunner,
    /** the submission file's bytes, sent with each chunk when small (see RunRequest.submission) */
    readonly submissionBytes?: Uint8Array,
    /** its file is not written yet: the chunks made until then wait for it (see awaitSubmission) */
    writing = false,
  ) {
    if (writing) this.awaitingFile = []
    this.size = record.args.length
    this.numTasks = record.params.tasksPerNode * record.params.nodes
    this.parallelism = runner.arrayParallelism
    this.timeKey = record.fns.length === 1 ? `${record.fns[0].module}#${record.fns[0].exportName}` : undefined
    this.msPerElement = this.timeKey === undefined ? undefined : runner.taskTimes.get(this.timeKey)
    this.timeoutMs = record.params.timeoutMin === undefined ? undefined : record.params.timeoutMin * 60_000
    this.codes = new Uint8Array(this.size * this.numTasks)
    this.values = new Array(this.size * this.numTasks)
    this.marked = new Uint8Array(this.size * this.numTasks)
    this.unwritten = new Uint8Array(this.size * this.numTasks)
    this.chunkOf = new Array(this.size * this.numTasks)
    this.restarts = new Uint8Array(this.size * this.numTasks)
    this.next = new Array(this.numTasks).fill(0)
    this.unfinished = this.size * this.numTasks
    this.jobs = new Array(this.size)
    for (let i = 0; i < this.size; i++) {
      const index = record.isArray ? i : null
      const paths = new JobPaths(record.folder, makeJobId(record.arrayId, index), { arrayId: record.arrayId, index })
      this.jobs[i] = new Job(paths, this.numTasks, this, record.nonce)
    }
  }

  /** tasks (slots) without an outcome yet */
  get unfinishedTasks(): number {
    return this.unfinished
  }

  get finished(): boolean {
    return this.unfinished === 0 || this.abandoned
  }

  /** The submission file is written: the chunks sent before run. */
  submissionWritten(): void {
    for (const chunk of this.awaitingFile ?? []) settleSubmission(chunk.memory.control, true)
    this.awaitingFile = undefined
  }

  /** The submission file could not be written (the submit rejects): the chunks sent before run nothing. */
  abandon(): void {
    this.abandoned = true
    for (const chunk of this.awaitingFile ?? []) settleSubmission(chunk.memory.control, false)
    this.awaitingFile = undefined
  }

  /** The next chunk to run, or null when there is none for now. */
  take(): Chunk | null {
    if (this.abandoned) return null
    const retry = this.retries.shift()
    if (retry) return retry
    // until one chunk has come back, probe with single elements, no more than can run at once
    if (this.msPerElement === undefined && this.running >= this.parallelism) return null
    for (let t = 0; t < this.numTasks; t++) {
      const first = this.next[t]
      if (first >= this.size) continue
      const remaining = this.size - first
      let count = 1
      const ms = this.msPerElement
      if (ms !== undefined && !this.runner.isolated) {
        const perElement = Math.max(ms, 1e-4)
        // a time remembered from an earlier array may not hold for these arguments: small chunks until one returns
        const cap = this.measured ? MAX_CHUNK : Math.min(MAX_CHUNK, Math.max(FIRST_CHUNK_FROM_MEMORY, Math.floor(FIRST_CHUNK_MEMORY_MS / perElement)))
        // an even share of what is left, but not less work than a chunk's own cost (its file and messages:
        // a file costs ~0.5 ms to create on some disks, more than a thousand trivial tasks)
        const even = Math.ceil(remaining / this.parallelism)
        const worth = Math.min(remaining, Math.ceil(this.runner.chunkOverheadMs / perElement))
        count = Math.max(1, Math.min(cap, Math.max(even, worth), Math.floor(CHUNK_TARGET_MS / perElement)))
      }
      this.next[t] = first + count
      return this.makeChunk(first, count, t)
    }
    return null
  }

  private makeChunk(first: number, count: number, task: number): Chunk {
    const chunk: Chunk = { array: this, first, count, task, memory: chunkMemory(count) }
    if (this.awaitingFile) {
      chunk.memory.control[SUBMISSION] = SUBMISSION_PENDING
      this.awaitingFile.push(chunk)
    }
    for (let k = 0; k < count; k++) {
      const slot = task * this.size + first + k
      this.chunkOf[slot] = chunk
      if (this.codes[slot] !== 0) chunk.memory.control[FLAGS + k] = CANCEL_FLAG
    }
    return chunk
  }

  /** A chunk's worker replied with its result record. */
  completed(chunk: Chunk, reply: { bytes: Uint8Array; runMs: number }): void {
    if (this.abandoned) return
    const record = decodeResult(reply.bytes, `result of ${chunk.array.record.arrayId} chunk ${chunk.first}`)
    // the time of the tasks alone: a chunk's fixed cost (two files, a message) must not shrink chunks
    const perElement = reply.runMs / chunk.count
    // faster at once (the first chunk also paid the task module's import), slower by halves
    this.msPerElement = !this.measured || perElement < this.msPerElement! ? perElement : 0.5 * (this.msPerElement! + perElement)
    this.measured = true
    if (chunk.sentAt !== undefined) {
      // smoothed: one slow file write must not make every later chunk large
      const overhead = Math.max(0, performance.now() - chunk.sentAt - reply.runMs)
      this.runner.chunkOverheadMs = Math.min(CHUNK_TARGET_MS / 10, 0.8 * this.runner.chunkOverheadMs + 0.2 * overhead)
    }
    if (this.timeKey !== undefined) this.runner.taskTimes.set(this.timeKey, this.msPerElement)
    this.report(record)
  }

  private report(record: ResultRecord): void {
    const { states, values, first, task, marked } = record
    for (let k = 0; k < states.length; k++) this.settle(first + k, task, states[k], values[k], marked)
  }

  private settle(index: number, task: number, state: number, value: unknown, marked: boolean): void {
    const slot = task * this.size + index
    if (this.codes[slot] !== 0) {
      this.unwritten[slot] = 0 // cancelled here already: the record holds it
      return
    }
    this.codes[slot] = state + 1
    this.values[slot] = value
    this.marked[slot] = marked ? 1 : 0
    this.unfinished--
    const waiter = this.waiters[index]
    if (waiter && this.isFinal(index)) {
      waiter.resolve()
      this.waiters[index] = undefined
    }
  }

  /**
   * A chunk's thread died or was stopped (and is gone: see takeBackChunk). What it had finished is
   * kept (its result file if it got that far, else its partial result files and the shared arena):
   * nothing that ran runs again. The element it was stopped for (or was running when it crashed)
   * gets its outcome; the elements it had not reached run in new chunks, or, once the array is shut
   * down, get their cancel written.
   */
  interrupted(chunk: Chunk, error: unknown, thread?: number): void {
    if (this.abandoned) return // it ran nothing: the submit failed
    const { control } = chunk.memory
    if (thread !== undefined) this.removeLeftovers(chunk, thread)
    // it wrote the chunk's result just before it was stopped (a job's own process: before it exited)
    if (this.savedByWorker(chunk)) return
    for (const [from, to] of flushedSegments(chunk.memory, chunk.count)) {
      let record: ResultRecord
      try {
        record = readResult(resultsPath(this.record.folder, this.record.arrayId, this.record.isArray, chunk.first + from, to - from, chunk.task))
      } catch (e) {
        // they ran: never again; say why their outcomes are not there
        for (let i = chunk.first + from; i < chunk.first + to; i++) this.writeOwnResult(i, chunk.task, { state: 'FAILED', error: this.lostError(i, e) })
        continue
      }
      this.report(record)
    }
    const stored = storedOutcomes(chunk.memory, chunk.count)
    if (stored.outcomes.length > 0) this.writeRecord(chunk.first + stored.first, chunk.task, stored.outcomes, stored.marked)
    const reached = chunk.first + stored.first + stored.outcomes.length // the first element without an outcome
    const current = Atomics.load(control, CURRENT)
    const target = chunk.stopReason ? chunk.stopTarget! : current >= reached ? current : -1
    const unsettled = (i: number) => this.codes[chunk.task * this.size + i] === 0
    if (target >= reached && unsettled(target) && !(chunk.stopReason === 'TIMEOUT' && this.requeue(target, chunk.task))) {
      const jobId = this.jobs[target].jobId
      const requeues = this.restarts[chunk.task * this.size + target]
      const outcome: Outcome =
        chunk.stopReason === 'TIMEOUT'
          ? {
              state: 'TIMEOUT',
              error: new TimeoutError(
                `job ${jobId} ran past its timeoutMin of ${this.record.params.timeoutMin} min; its ${this.runner.isolated ? 'process' : 'worker thread'} was stopped` +
                  (requeues > 0
                    ? ` after ${requeues} requeue${requeues > 1 ? 's' : ''} from its checkpoint (maxNumTimeout ${this.runner.maxNumTimeout} spent)`
                    : ''),
              ),
            }
          : chunk.stopReason === 'CANCELLED'
            ? {
                state: 'CANCELLED',
                error: new CancelledError(`job ${jobId} was cancelled while running; its ${this.runner.isolated ? 'process' : 'worker thread'} was stopped`),
              }
            : { state: 'FAILED', error: this.crashError(target, chunk.task, error) }
      // it ran from the start the worker recorded until now, on a thread that is gone (not recorded)
      const started = target === current ? chunk.memory.startedAt[0] : 0
      this.writeOwnResult(target, chunk.task, outcome, started > 0 ? [started, Date.now()] : undefined)
    } else if (reached === chunk.first && !chunk.stopReason && !this.closed) {
      // it died outside any task (e.g. the submission could not be read): the same would happen again
      for (let i = chunk.first; i < chunk.first + chunk.count; i++) {
        if (unsettled(i)) this.writeOwnResult(i, chunk.task, { state: 'FAILED', error: this.crashError(i, chunk.task, error) })
        else this.writeSettled(i, chunk.task)
      }
      return
    }
    // the elements it had not reached run in new chunks, split around the target
    const rest: number[] = []
    for (let i = reached; i < chunk.first + chunk.count; i++) {
      if (!unsettled(i)) {
        // cancelled while the chunk ran, for the worker to write (or the target, just written): written now
        this.writeSettled(i, chunk.task)
      } else if (i === target) {
        // requeued from its checkpoint
      } else if (Atomics.load(control, FLAGS + i - chunk.first) === DONE_FLAG) {
        // it ran, but its outcome reached neither the memory nor a file (the disk is full): never again
        this.writeOwnResult(i, chunk.task, { state: 'FAILED', error: this.lostError(i, error) })
      } else if (this.closed) {
        this.writeOwnResult(i, chunk.task, { state: 'CANCELLED', error: cancelledBeforeStart(this.jobs[i].jobId) })
      } else rest.push(i)
    }
    for (let a = 0; a < rest.length; ) {
      let b = a
      while (b + 1 < rest.length && rest[b + 1] === rest[b] + 1) b++
      this.retries.push(this.makeChunk(rest[a], b - a + 1, chunk.task))
      a = b + 1
    }
  }

  /** A chunk's report could not be taken in (a bug): its jobs without an outcome fail, saying why. */
  failUnfinished(chunk: Chunk, error: unknown): void {
    for (let i = chunk.first; i < chunk.first + chunk.count; i++) {
      if (this.codes[chunk.task * this.size + i] === 0) this.writeOwnResult(i, chunk.task, { state: 'FAILED', error: this.lostError(i, error) })
      else this.writeSettled(i, chunk.task)
    }
  }

  private lostError(index: number, cause: unknown): ResultWriteError {
    const why = cause instanceof Error ? cause.message : String(cause)
    return new ResultWriteError(
      `job ${this.jobs[index].jobId} ran, but its outcome was lost when its worker was stopped (${why}); it is not run again: submit it again`,
      (cause as NodeJS.ErrnoException)?.code,
    )
  }

  /**
   * The temporary files a stopped thread may have been writing (a partial or whole result of the
   * chunk, the running element's checkpoint): the thread is gone, its writes with it.
   */
  private removeLeftovers(chunk: Chunk, thread: number): void {
    const suffix = `.tmp-${process.pid}-${thread}`
    const { folder, arrayId, isArray } = this.record
    const flushed = Atomics.load(chunk.memory.control, FLUSHED)
    const remove = (file: string) => {
      try {
        fs.unlinkSync(file + suffix)
      } catch {
        /* not there */
      }
    }
    // a partial file holds elements from the last flush on, the chunk's result file those from its first
    for (let n = 1; flushed + n <= chunk.count; n++) remove(resultsPath(folder, arrayId, isArray, chunk.first + flushed, n, chunk.task))
    for (let n = 2; n <= chunk.count; n++) remove(resultsPath(folder, arrayId, isArray, chunk.first, n, chunk.task))
    const current = Atomics.load(chunk.memory.control, CURRENT)
    if (current >= 0) remove(this.jobs[current].paths.checkpoint)
  }

  /**
   * The chunk's result file is there: its thread (or a job's own process, e.g. one calling
   * process.exit) wrote it just before it ended. Those outcomes stand.
   */
  private savedByWorker(chunk: Chunk): boolean {
    const { folder, arrayId, isArray, nonce } = this.record
    let record: ResultRecord
    try {
      record = readResult(resultsPath(folder, arrayId, isArray, chunk.first, chunk.count, chunk.task))
    } catch {
      return false
    }
    if (record.nonce !== nonce || record.first !== chunk.first || record.states.length !== chunk.count) return false
    this.report(record)
    return true
  }

  /**
   * A job past its time with a checkpoint saved (by its checkpoint function when warned, or by
   * saveCheckpoint) runs again from it, up to maxNumTimeout times, as submitit requeues it.
   */
  private requeue(index: number, task: number): boolean {
    const slot = task * this.size + index
    if (this.closed || this.restarts[slot] >= this.runner.maxNumTimeout) return false
    let saved: boolean
    try {
      saved = readCheckpointOf(this.jobs[index].paths, this.record.nonce) !== undefined
    } catch {
      saved = false // unreadable: it ends as TIMEOUT
    }
    if (!saved) return false
    const chunk = this.makeChunk(index, 1, task)
    chunk.resume = { restarts: ++this.restarts[slot] }
    this.retries.push(chunk)
    return true
  }

  /** Whether element `index` runs a task with a checkpoint function, to warn before stopping it. */
  checkpointable(index: number): boolean {
    return this.record.fns[this.record.fnIndex[index]].checkpoint === true
  }

  /** Writes the outcome of a job cancelled here while its chunk ran, if its worker did not. */
  private writeSettled(index: number, task: number): void {
    const slot = task * this.size + index
    if (this.unwritten[slot] === 0) return
    this.unwritten[slot] = 0
    this.writeOwnResult(index, task, { state: 'CANCELLED', error: this.values[slot] })
  }

  /** Writes one job's outcome decided here (not by a worker) to its own result file; `times`: when it ran, if it did. */
  private writeOwnResult(index: number, task: number, outcome: Outcome, times?: ElementTimes): void {
    const enc = encodeOutcome(outcome, `the result of job ${this.jobs[index].jobId}`)
    const file = this.jobs[index].paths.resultFile(task)
    this.report(writeResultFile(this.record, file, index, task, [enc.outcome], enc.marked, times, false, null).record)
  }

  /** Writes encoded outcomes of jobs first.. and reports them (failed, if the file cannot be written). */
  private writeRecord(first: number, task: number, outcomes: Outcome[], marked: boolean): void {
    const file = resultsPath(this.record.folder, this.record.arrayId, this.record.isArray, first, outcomes.length, task)
    this.report(writeResultFile(this.record, file, first, task, outcomes, marked).record)
  }

  private crashError(index: number, task: number, error: unknown): WorkerCrashError {
    const { jobId, paths } = this.jobs[index]
    const why = error instanceof Error ? error.message : String(error)
    return new WorkerCrashError(
      `the ${this.runner.isolated ? 'process' : 'worker thread'} running job ${jobId} died: ${why}. ` +
        `See its logs: ${paths.stderr(task)} and ${paths.stdout(task)}`,
      { cause: error },
    )
  }

  /** Every task of element `index` has ended. */
  private isFinal(index: number): boolean {
    for (let t = 0; t < this.numTasks; t++) if (this.codes[t * this.size + index] === 0) return false
    return true
  }

  outcome(job: Job<unknown>, task: number): KnownOutcome | undefined {
    const slot = task * this.size + (job.paths.index ?? 0)
    const code = this.codes[slot]
    if (code === 0) return undefined
    const state = FINAL_STATES[code - 1]
    const value = this.values[slot]
    return { outcome: state === 'COMPLETED' ? { state, value } : { state, error: value }, marked: this.marked[slot] === 1 }
  }

  private taskState(index: number, task: number): JobState {
    const slot = task * this.size + index
    const code = this.codes[slot]
    if (code !== 0) return FINAL_STATES[code - 1]
    const chunk = this.chunkOf[slot]
    if (!chunk?.abort) return 'PENDING'
    if (Atomics.load(chunk.memory.control, CURRENT) === index) return 'RUNNING'
    return Atomics.load(chunk.memory.control, FLAGS + index - chunk.first) === DONE_FLAG ? 'COMPLETING' : 'PENDING'
  }

  state(job: Job<unknown>): JobState {
    const index = job.paths.index ?? 0
    if (this.numTasks === 1) {
      const s = this.taskState(index, 0)
      return s === 'COMPLETING' ? 'RUNNING' : s
    }
    const states = Array.from({ length: this.numTasks }, (_, t) => this.taskState(index, t))
    if (this.isFinal(index)) return worstState(states as FinalState[])
    if (states.some((s) => s === 'RUNNING' || s === 'COMPLETING' || s === 'COMPLETED')) return 'RUNNING'
    return 'PENDING'
  }

  waitFinal(job: Job<unknown>): Promise<void> {
    const index = job.paths.index ?? 0
    if (this.isFinal(index)) return Promise.resolve()
    let waiter = this.waiters[index]
    if (!waiter) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      waiter = { promise, resolve }
      this.waiters[index] = waiter
    }
    return waiter.promise
  }

  /** Resolves once the job has its final state (a running one's thread must stop first). */
  cancel(job: Job<unknown>): Promise<void> {
    this.cancelIndex(job.paths.index ?? 0)
    this.runner.schedule()
    return this.waitFinal(job)
  }

  /** Cancels every unfinished job of the array (executor shutdown). */
  cancelAll(): void {
    this.closed = true
    this.retries.length = 0
    for (let i = 0; i < this.size; i++) this.cancelIndex(i)
  }

  private cancelIndex(index: number): void {
    for (let t = 0; t < this.numTasks; t++) {
      const slot = t * this.size + index
      if (this.codes[slot] !== 0) continue
      const chunk = this.chunkOf[slot]
      if (chunk) {
        // the worker stores the running index before it reads the flag: one of us sees the other
        const was = Atomics.compareExchange(chunk.memory.control, FLAGS + index - chunk.first, PENDING_FLAG, CANCEL_FLAG)
        if (was === DONE_FLAG) continue // it has finished; its result is on its way
        if (chunk.abort && Atomics.load(chunk.memory.control, CURRENT) === index) {
          this.runner.stop(chunk, 'CANCELLED', index)
          continue // its outcome comes with the interrupted chunk
        }
      }
      const error = cancelledBeforeStart(this.jobs[index].jobId)
      if (chunk?.abort) {
        this.settle(index, t, FINAL_STATES.indexOf('CANCELLED'), error, false) // the worker writes its file
        this.unwritten[slot] = 1 // unless it is stopped first (see interrupted)
      } else this.writeOwnResult(index, t, { state: 'CANCELLED', error })
    }
  }
}
