// Re-attaching a job from another process: the folder and the job id are enough. The submission
// file says which backend ran it; that backend's watcher (its registry entry's attach, see
// backends.ts) tells the state, the result files the rest.
import fs from 'node:fs'
import { getBackend, listBackends } from './backends.js'
import { cachedGet, currentTurn } from './cache.js'
import { forgetListing, mark } from './chunk-listing.js'
import { isFinalState, Job, type JobState, type JobWatcher } from './job.js'
import { BackendError } from './errors.js'
import { readSubmission, worstState, type FinalState, type SubmissionRecord } from './format.js'
import { ownerDeath, readRunning } from './owner.js'
import { JobPaths, runningPath, submittedPath } from './paths.js'
import path from 'node:path'

type WatcherFactory = (record: SubmissionRecord) => JobWatcher
const legacy = new Map<string, WatcherFactory>()

/**
 * @deprecated a backend says how to watch its jobs from another process in its registry entry
 * (`attach` in registerBackend); this is used only for a backend that is not registered.
 */
export function registerAttach(backend: string, factory: WatcherFactory): void {
  legacy.set(backend, factory)
}

/** How to watch the jobs of the record's backend: its registry entry's attach, else its files. */
function watcherFactory(record: SubmissionRecord, jobId: string): WatcherFactory {
  const entry = getBackend(record.backend)
  if (entry?.attach) return (r) => entry.attach!(r)
  const old = legacy.get(record.backend)
  if (old) return old
  // result files and the owner's life: all a local or debug job needs (and a backend without attach)
  if (entry || record.backend === 'local' || record.backend === 'debug') return (r) => new FileWatcher(r)
  throw new BackendError(
    `cannot attach job ${jobId}: it was submitted through the backend "${record.backend}", which is not registered in this process ` +
      `(registered: ${listBackends()
        .map((b) => b.name)
        .join(', ')}); import the plugin that provides it and call registerBackend() first`,
  )
}

/**
 * The job `jobId` whose files are under `folder` (the executor's folder template, e.g. "logs/%j"),
 * as seen from this process: state, wait, result, logs.
 */
export function attachJob<R = unknown>(folder: string, jobId: string): Job<R> {
  const paths = new JobPaths(path.resolve(folder), jobId)
  let record: SubmissionRecord
  try {
    record = submissionOf(paths.submitted)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `cannot attach job ${jobId}: there is no submission file ${paths.submitted}. Check the folder (give the executor's folder, ` +
          `e.g. 'logs/%j') and the id; a job whose submitter was killed while submitting it has none either (on Slurm its job ` +
          `then fails on its own, saying its submission never came): submit it again`,
        { cause: e },
      )
    }
    throw new Error(`cannot attach job ${jobId}: ${(e as Error).message}`, { cause: e })
  }
  let watcher = watchers.get(record)
  if (!watcher) {
    watcher = watcherFactory(record, jobId)(record)
    watchers.set(record, watcher)
  }
  return new Job<R>(paths, record.params.tasksPerNode * record.params.nodes, watcher, record.nonce)
}

// Re-attached jobs of one array share its decoded submission (a 100k-element record decoded once,
// not once per job, and held once) and one watcher. A file replaced since (a reused job id) is read
// again: its stat is checked once per turn of the event loop (10,000 attachJob calls in a loop: one).
const submissions = new Map<string, { stamp: string; turn: number; record: SubmissionRecord }>()
const watchers = new WeakMap<SubmissionRecord, JobWatcher>()

function submissionOf(file: string): SubmissionRecord {
  const cached = submissions.get(file)
  const turn = currentTurn()
  if (cached?.turn === turn) return cached.record
  const st = fs.statSync(file, { bigint: true })
  const stamp = `${st.ino}:${st.size}:${st.mtimeNs}`
  if (cached?.stamp === stamp) {
    cached.turn = turn
    return cached.record
  }
  submissions.delete(file)
  return cachedGet(submissions, file, 8, () => ({ stamp, turn, record: readSubmission(file) })).record
}

/**
 * For a backend watched through its files (local, debug, one registered without attach): the state
 * of every job of `record` that has no result yet, and why — one answer for the whole array (its
 * owner lives, or is gone), as FileWatcher gives it per job. Undefined for a backend with a watcher
 * of its own (Slurm: ask it per job). `running`: a live local owner's running elements, when it
 * has published them (see writeRunning): the others are queued (PENDING).
 */
export function unfinishedState(record: SubmissionRecord): { state: JobState; reason?: string; running?: ReadonlySet<number> } | undefined {
  const entry = getBackend(record.backend)
  if (entry?.attach || legacy.has(record.backend)) return undefined
  if (!entry && record.backend !== 'local' && record.backend !== 'debug') return undefined // attachJob says what is missing
  const death = ownerDeath(record.owner, submittedPath(record.folder, record.arrayId, record.isArray))
  if (death === undefined) {
    if (record.backend === 'debug') return { state: 'PENDING' }
    return { state: 'RUNNING', running: readRunning(runningPath(record.folder, record.arrayId, record.isArray), record.nonce) }
  }
  return { state: 'FAILED', reason: `${death}, so the job will never get its result` }
}

/** A live local owner's job without a result: RUNNING if the owner says it runs it (or has not said yet), else queued. */
export function liveState(unfinished: { state: JobState; running?: ReadonlySet<number> }, index: number): JobState {
  return unfinished.state === 'RUNNING' && unfinished.running !== undefined && !unfinished.running.has(index) ? 'PENDING' : unfinished.state
}

/** How long an answer about the owner's life holds (a poll over 10,000 jobs asks once). */
const OWNER_CHECK_MS = 250

/**
 * Watches a local job run by another process through its result files. A job with no result
 * whose submitting process is gone will never get one: it is FAILED, not left waiting, and its
 * reason says how its owner was found gone (see lib/core/owner.ts).
 */
export class FileWatcher implements JobWatcher {
  /** a mark() taken before the owner was seen gone: a folder listed since holds all it ever wrote */
  private ownerGone: number | undefined
  /** why the owner is known gone */
  private death: string | undefined
  private checkedAt = -Infinity
  /** what the live owner last published of the elements it runs (see writeRunning), and when it was read */
  private running: ReadonlySet<number> | undefined
  private runningAt = -Infinity

  constructor(private readonly record: SubmissionRecord) {}

  /** A job without a result of a live owner: RUNNING, or PENDING if the owner says it does not run it (yet). */
  private liveState(job: Job<unknown>): JobState {
    if (this.record.backend === 'debug') return 'PENDING'
    if (Date.now() - this.runningAt >= OWNER_CHECK_MS) {
      this.runningAt = Date.now()
      this.running = readRunning(runningPath(this.record.folder, this.record.arrayId, this.record.isArray), this.record.nonce)
    }
    return liveState({ state: 'RUNNING', running: this.running }, job.paths.index ?? 0)
  }

  /** Undefined while the owner lives; once gone, it stays gone. */
  private ownerDeath(): string | undefined {
    if (this.death !== undefined || Date.now() - this.checkedAt < OWNER_CHECK_MS) return this.death
    const before = mark()
    this.checkedAt = Date.now()
    this.death = ownerDeath(this.record.owner, submittedPath(this.record.folder, this.record.arrayId, this.record.isArray))
    if (this.death !== undefined) this.ownerGone = before
    return this.death
  }

  state(job: Job<unknown>): JobState {
    const states: FinalState[] = []
    for (let t = 0; t < job.numTasks; t++) {
      let found = job.peekOutcome(t)
      // a live owner is working on it (its queue is not visible from here); a dead one never will
      if (!found) {
        if (this.ownerDeath() === undefined) return this.liveState(job)
        // gone: list the folder again if our listing is older (once, not once per job)
        forgetListing(job.paths.arrayFolder, this.ownerGone)
        found = job.peekOutcome(t)
        if (!found) return 'FAILED'
      }
      states.push(found.outcome.state)
    }
    return worstState(states)
  }

  reason(job: Job<unknown>): string | undefined {
    if (this.death === undefined) return undefined
    for (let t = 0; t < job.numTasks; t++) if (!job.peekOutcome(t)) return `${this.death}, so the job will never get its result`
    return undefined
  }

  async waitFinal(job: Job<unknown>, signal?: AbortSignal): Promise<void> {
    let delay = 20
    // an aborted wait (a timeout) stops polling: it must not keep the process alive
    while (!isFinalState(this.state(job)) && !signal?.aborted) {
      await new Promise((r) => setTimeout(r, delay))
      delay = Math.min(delay * 1.5, 1000)
    }
  }

  async cancel(job: Job<unknown>): Promise<void> {
    if (isFinalState(this.state(job))) return
    throw new Error(
      `job ${job.jobId} runs in another process (pid ${this.record.owner.pid} on ${this.record.owner.host}); cancel it from there (job.cancel() in that process; stopping that process stops all its jobs)`,
    )
  }
}
