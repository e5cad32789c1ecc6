// Re-attaching a job from another process: the folder and the job id are enough. The submission
// file says which backend ran it; that backend's watcher tells the state, the result files the rest.
import fs from 'node:fs'
import os from 'node:os'
import { isFinalState, Job, type JobState, type JobWatcher } from './job.js'
import { readSubmission, worstState, type BackendName, type FinalState, type SubmissionRecord } from './format.js'
import { JobPaths } from './paths.js'
import path from 'node:path'

type WatcherFactory = (record: SubmissionRecord) => JobWatcher
const factories = new Map<BackendName, WatcherFactory>()

/** Backends register how to watch their jobs from another process. */
export function registerAttach(backend: BackendName, factory: WatcherFactory): void {
  factories.set(backend, factory)
}

/**
 * The job `jobId` whose files are under `folder` (the executor's folder template, e.g. "logs/%j"),
 * as seen from this process: state, wait, result, logs.
 */
export function attachJob<R = unknown>(folder: string, jobId: string): Job<R> {
  const paths = new JobPaths(path.resolve(folder), jobId)
  let record: SubmissionRecord
  try {
    record = readSubmission(paths.submitted)
  } catch (e) {
    throw new Error(`cannot attach job ${jobId}: ${(e as Error).message}`, { cause: e })
  }
  const factory = factories.get(record.backend) ?? ((r) => new FileWatcher(r))
  return new Job<R>(paths, record.params.tasksPerNode * record.params.nodes, factory(record), record.nonce)
}

/** Is the process that submitted a local job still there? (checks /proc: kill -0 lies for zombies) */
function ownerAlive(owner: SubmissionRecord['owner']): boolean {
  if (owner.host !== os.hostname()) return true // cannot tell from here
  if (owner.pid === process.pid) return true
  try {
    return !/^State:\s*Z/m.test(fs.readFileSync(`/proc/${owner.pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

/**
 * Watches a local job run by another process through its result files. A job with no result
 * whose submitting process is gone will never get one: it is FAILED, not left waiting.
 */
export class FileWatcher implements JobWatcher {
  constructor(private readonly record: SubmissionRecord) {}

  state(job: Job<unknown>): JobState {
    const states: FinalState[] = []
    for (let t = 0; t < job.numTasks; t++) {
      const found = job.peekOutcome(t)
      // a live owner is working on it (its queue is not visible from here); a dead one never will
      if (!found) return ownerAlive(this.record.owner) ? 'RUNNING' : 'FAILED'
      states.push(found.outcome.state)
    }
    return worstState(states)
  }

  async waitFinal(job: Job<unknown>): Promise<void> {
    let delay = 20
    while (!isFinalState(this.state(job))) {
      await new Promise((r) => setTimeout(r, delay))
      delay = Math.min(delay * 1.5, 1000)
    }
  }

  async cancel(job: Job<unknown>): Promise<void> {
    if (isFinalState(this.state(job))) return
    throw new Error(`job ${job.jobId} runs in another process (pid ${this.record.owner.pid}); cancel it from there`)
  }
}
