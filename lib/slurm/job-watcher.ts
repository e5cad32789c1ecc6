// The JobWatcher of Slurm jobs: result files first (a finished job needs no scheduler call), else
// the process-wide SlurmWatcher, which asks sacct (or squeue) once per poll for every job.
import fs from 'node:fs'
import path from 'node:path'
import { isFinalState, type Job, type JobState, type JobWatcher, type KnownOutcome } from '../core/job.js'
import { worstState, writeEndedResult, type FinalState, type SubmissionRecord } from '../core/format.js'
import { CancelledError } from '../core/job-errors.js'
import { JobPaths, makeJobId } from '../core/paths.js'
import { scancel, type SlurmCommandOptions } from './commands.js'
import { JobNeverRunsError } from './errors.js'
import type { SlurmWatcher } from './watcher.js'

/** How long a folder listing answers for every job in it: one readdir per poll, not one stat per job. */
const LISTING_MS = 200
/** The longest wait between two looks for a packed element's result file. */
const PACKED_POLL_MS = 2000

/** The arrays whose Slurm tasks each run a pack of elements (chunkSize): elements per task, and how many. */
interface Pack {
  pack: number
  size: number
}

/** An attached job's watcher: the submission says which array it is, and how it was packed. */
export function attachedWatcher(record: SubmissionRecord, watcher: SlurmWatcher): SlurmJobWatcher {
  const w = new SlurmJobWatcher(watcher, {}, false, { arrayId: record.arrayId, isArray: record.isArray, size: record.args.length })
  if (record.params.pack !== undefined && record.params.pack > 1) w.packed(record.arrayId, record.params.pack, record.args.length)
  return w
}

export class SlurmJobWatcher implements JobWatcher {
  private readonly listings = new Map<string, { at: number; names: Set<string> }>()
  /** each job's result files as [folder, name] per task, made once (they are asked for at every poll) */
  private readonly resultFiles = new WeakMap<Job<unknown>, [string, string][]>()
  private readonly packs = new Map<string, Pack>()
  /** the scancels asked in one turn of the event loop, sent as one call (see scancelSoon) */
  private cancels: { ids: Set<string>; sent: Promise<void> } | undefined

  constructor(
    private readonly watcher: SlurmWatcher,
    private readonly commands: SlurmCommandOptions,
    /** cancel a job Slurm says can never start (an executor's own jobs; not jobs merely looked at) */
    private readonly cancelIfNeverRuns = false,
    /** the submission of an attached job: an id it does not have (A_999 of a 10-element array) is refused */
    private readonly record?: { arrayId: string; isArray: boolean; size: number },
  ) {}

  /** The elements of array `arrayId` run `pack` to a Slurm array task (chunkSize): element i in task ⌊i / pack⌋. */
  packed(arrayId: string, pack: number, size: number): void {
    this.packs.set(arrayId, { pack, size })
  }

  /** The Slurm job that runs `job`: itself, or the array task of its pack. */
  slurmId(job: Job<unknown>): string {
    const p = this.packs.get(job.paths.arrayId)
    const index = job.paths.index
    return p && index !== null ? makeJobId(job.paths.arrayId, Math.floor(index / p.pack)) : job.jobId
  }

  /** Why the job does not exist in its submission (an index past the end of its array), if it does not. */
  private missing(job: Job<unknown>): string | undefined {
    const r = this.record
    if (!r) return undefined
    const index = job.paths.index
    if (!r.isArray) return index === null ? undefined : `job ${job.jobId} does not exist: ${r.arrayId} is a single job, not an array`
    if (index !== null && index < r.size) return undefined
    return `job ${job.jobId} does not exist: array ${r.arrayId} has elements ${r.arrayId}_0..${r.arrayId}_${r.size - 1}`
  }

  private exists([dir, name]: [string, string]): boolean {
    let listing = this.listings.get(dir)
    if (!listing || Date.now() - listing.at > LISTING_MS) {
      let names: string[] = []
      try {
        names = fs.readdirSync(dir)
      } catch {
        /* not made yet */
      }
      listing = { at: Date.now(), names: new Set(names) }
      if (this.listings.size > 1000) this.listings.clear() // one folder per job: forget old ones
      this.listings.set(dir, listing)
    }
    return listing.names.has(name)
  }

  /** The job's result files as [folder, name] per task. */
  private filesOf(job: Job<unknown>): [string, string][] {
    let files = this.resultFiles.get(job)
    if (!files) {
      files = Array.from({ length: job.numTasks }, (_, t) => {
        const file = job.paths.resultFile(t)
        return [path.dirname(file), path.basename(file)] as [string, string]
      })
      this.resultFiles.set(job, files)
    }
    return files
  }

  /** The job's state as its result files tell it; undefined while a task has none. */
  private fromResults(job: Job<unknown>, files = this.filesOf(job)): JobState | undefined {
    let states: FinalState[] | undefined // made once a task has a result: most checks find none
    for (let t = 0; t < job.numTasks; t++) {
      // peekOutcome reads only a file of this job's submission (nonce checked): a result left by an
      // older job with the same id (a reused id) is not this job's and does not make it finished
      let found: KnownOutcome | undefined
      try {
        found = this.exists(files[t]) ? job.peekOutcome(t) : undefined
      } catch {
        found = undefined // unreadable (an older submitit-ts's file): not this job's either
      }
      if (!found) return undefined
      ;(states ??= []).push(found.outcome.state)
    }
    return states && worstState(states)
  }

  private watch(job: Job<unknown>): void {
    // the poll's check of every job: its files are looked up once, here
    const files = this.filesOf(job)
    const isFinished = this.packs.has(job.paths.arrayId) ? () => this.packDone(job) : () => this.fromResults(job, files) !== undefined
    this.watcher.register(this.slurmId(job), { isFinished, cancelIfNeverRuns: this.cancelIfNeverRuns })
  }

  /** The elements of job's pack, as paths. */
  private packOf(job: Job<unknown>): JobPaths[] {
    const { arrayId, index, folderTemplate } = job.paths
    const p = this.packs.get(arrayId)!
    const first = Math.floor(index! / p.pack) * p.pack
    const out: JobPaths[] = []
    for (let i = first; i < Math.min(p.size, first + p.pack); i++) out.push(new JobPaths(folderTemplate, makeJobId(arrayId, i), { arrayId, index: i }))
    return out
  }

  /** A pack (a Slurm array task) is done when each of its elements has a result file. */
  private packDone(job: Job<unknown>): boolean {
    return this.packOf(job).every((paths) => {
      const file = paths.resultFile(0)
      return this.exists([path.dirname(file), path.basename(file)])
    })
  }

  /** A job was just submitted with this id: forget anything known about an older job that had it. */
  claim(job: Job<unknown>): void {
    this.watcher.claim(this.slurmId(job), job.nonce)
  }

  /** An older job whose id Slurm gave to a newer one: the scheduler no longer knows anything about it. */
  private superseded(job: Job<unknown>): boolean {
    return !this.watcher.isOwner(this.slurmId(job), job.nonce)
  }

  state(job: Job<unknown>): JobState {
    if (this.missing(job)) return 'UNKNOWN'
    const fromResults = this.fromResults(job)
    if (fromResults) return fromResults
    if (this.superseded(job)) return 'FAILED'
    this.watch(job)
    const state = this.watcher.state(this.slurmId(job))
    // just submitted, not asked about yet: queued. Once the scheduler was asked and could not tell
    // (sacct lags, shows a blank state, a command failed), UNKNOWN, its reason saying why
    return state === 'UNKNOWN' && this.watcher.info(this.slurmId(job)).reason === undefined ? 'PENDING' : state
  }

  isFinal(jobId: string): boolean {
    return isFinalState(this.watcher.state(jobId))
  }

  /** Slurm's reason while the job waits (or the watcher's, e.g. gone from the queue); none once it ran. */
  reason(job: Job<unknown>): string | undefined {
    const missing = this.missing(job)
    if (missing) return missing
    if (this.fromResults(job)) return undefined
    if (this.superseded(job)) return 'its job id was given to a newer job (Slurm reuses ids once its state is reset)'
    this.watch(job) // asked before its state: the scheduler is looked at from now on, as for state
    const info = this.watcher.info(this.slurmId(job))
    // sacct keeps the last pending reason of a job that ended: it no longer says anything then
    return info.neverRuns || !isFinalState(info.state) || info.source === 'gone' ? info.reason : undefined
  }

  async waitFinal(job: Job<unknown>, signal?: AbortSignal): Promise<void> {
    const missing = this.missing(job)
    if (missing) throw new RangeError(missing)
    if (this.fromResults(job) || this.superseded(job)) return
    this.watch(job)
    if (this.packs.has(job.paths.arrayId)) await this.waitPacked(job, signal)
    else await this.watcher.waitFinal(job.jobId, signal)
    const info = this.watcher.info(this.slurmId(job))
    if (info.neverRuns && !this.fromResults(job)) {
      throw new JobNeverRunsError(job.jobId, info.reason ?? 'unknown', info.state === 'CANCELLED', { stdout: job.paths.stdout(0), stderr: job.paths.stderr(0) })
    }
  }

  /**
   * An element of a pack ends with its result file, usually long before its pack (the Slurm task):
   * whichever comes first. Its file is looked for with a backoff up to PACKED_POLL_MS (folder
   * listings are shared by the elements of a folder for LISTING_MS).
   */
  private async waitPacked(job: Job<unknown>, signal?: AbortSignal): Promise<void> {
    const stop = new AbortController()
    const onAbort = () => stop.abort(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    const own = async () => {
      for (let delay = 100; !this.fromResults(job); delay = Math.min(PACKED_POLL_MS, delay * 1.5)) {
        if (stop.signal.aborted) return
        await new Promise((r) => setTimeout(r, delay))
      }
    }
    try {
      await Promise.race([this.watcher.waitFinal(this.slurmId(job), stop.signal), own()])
    } finally {
      signal?.removeEventListener('abort', onAbort)
      stop.abort()
    }
    signal?.throwIfAborted()
  }

  async cancel(job: Job<unknown>): Promise<void> {
    const missing = this.missing(job)
    if (missing) throw new RangeError(missing)
    if (this.fromResults(job) || this.superseded(job)) return
    if (this.packs.has(job.paths.arrayId)) return this.cancelPacked(job)
    await this.scancelSoon(job.jobId)
    // a job given up as never starting is settled in the watcher: watch it afresh to see it CANCELLED
    if (this.watcher.info(job.jobId).neverRuns) this.watcher.unregister(job.jobId)
    await this.waitFinal(job)
  }

  /**
   * Cancels many jobs at once (the command line's cancel of an array): one scancel for all those
   * not packed (batched by length), not one per job; a pack's elements as cancel() does them.
   * Resolves once they are final.
   */
  async cancelMany(jobs: readonly Job<unknown>[]): Promise<void> {
    const plain: Job<unknown>[] = []
    for (const job of jobs) {
      const missing = this.missing(job)
      if (missing) throw new RangeError(missing)
      if (this.fromResults(job) || this.superseded(job)) continue
      if (this.packs.has(job.paths.arrayId)) await this.cancelPacked(job)
      else plain.push(job)
    }
    await scancel(
      plain.map((j) => j.jobId),
      this.commands,
    )
    for (const job of plain) if (this.watcher.info(job.jobId).neverRuns) this.watcher.unregister(job.jobId)
    await Promise.all(plain.map((job) => this.waitFinal(job).catch(() => undefined)))
  }

  /**
   * An element of a pack: its CANCELLED result is written here, unless its own is there first (a
   * result is written only if none is: the node's too). The node skips an element that has a result,
   * and stops a running one whose result appears. A pack left with nothing to run is scancelled.
   */
  private async cancelPacked(job: Job<unknown>): Promise<void> {
    const { arrayId, index, folderTemplate: folder } = job.paths
    writeEndedResult({ folder, arrayId, nonce: job.nonce!, isArray: true }, index!, 0, 'CANCELLED', new CancelledError(`job ${job.jobId} was cancelled`), true)
    this.listings.delete(path.dirname(job.paths.resultFile(0)))
    const open = this.packOf(job).some((paths) => !fs.existsSync(paths.resultFile(0)))
    const slurmId = this.slurmId(job)
    if (!open && !isFinalState(this.watcher.state(slurmId))) await this.scancelSoon(slurmId)
  }

  /**
   * scancel, with the other ids asked in the same turn of the event loop: cancelling the jobs of an
   * array one by one (`Promise.all(jobs.map((j) => j.cancel()))`, the CLI's cancel of an array) is one
   * scancel process, not one per job (batched by length, as every command taking ids).
   */
  private scancelSoon(id: string): Promise<void> {
    if (!this.cancels) {
      const ids = new Set<string>()
      const sent = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.cancels = undefined
        return scancel([...ids], this.commands)
      })
      this.cancels = { ids, sent }
    }
    this.cancels.ids.add(id)
    return this.cancels.sent
  }
}
