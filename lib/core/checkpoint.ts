// A job's checkpoint: the arguments a requeued job runs again with (`<jobId>_checkpoint.v8`, tied
// to its submission by the nonce). Written when the job is warned of its end (its task's
// `checkpoint` function answers), or by the task itself with saveCheckpoint(), which a CPU-bound
// task that cannot answer a warning in time calls as it goes.
import fs from 'node:fs'
import { JobEnvironment } from './environment.js'
import { encodeRecord, FORMAT_VERSION, readCheckpoint, writeAtomic, type CheckpointRecord } from './format.js'
import type { JobPaths } from './paths.js'
import { encodeValue } from './values.js'

/** Saves the arguments job `paths.jobId` is to be re-run with. */
export function writeCheckpoint(paths: JobPaths, nonce: string, args: unknown): void {
  if (!Array.isArray(args)) {
    throw new TypeError(`the checkpoint of job ${paths.jobId} must be the arguments to re-run with, as an array`)
  }
  const { value, marked } = encodeValue(args, `the arguments saved as the checkpoint of job ${paths.jobId}`)
  const record: CheckpointRecord = {
    format: 'submitit-ts/checkpoint',
    version: FORMAT_VERSION,
    node: process.version,
    jobId: paths.jobId,
    nonce,
    args: value as unknown[],
    marked,
    at: Date.now(),
  }
  writeAtomic(paths.checkpoint, encodeRecord(record))
}

/** The checkpoint saved for this submission's job, if any (one of an older job with the same id is not). */
export function readCheckpointOf(paths: JobPaths, nonce: string): CheckpointRecord | undefined {
  if (!fs.existsSync(paths.checkpoint)) return undefined
  const saved = readCheckpoint(paths.checkpoint)
  return saved.nonce === nonce ? saved : undefined
}

/**
 * Called by a running task: if the job is stopped (time limit, preemption) before it ends, it is
 * requeued and runs again with these arguments, as with a `checkpoint` function, but saved ahead
 * of time — what a busy task that cannot answer a warning does every so often, or when it sees
 * JobEnvironment.current().warned (the job is then requeued at once).
 */
export function saveCheckpoint(...args: unknown[]): void {
  const env = JobEnvironment.maybe()
  if (!env?.nonce) throw new Error('saveCheckpoint() is called from inside a running task')
  writeCheckpoint(env.paths, env.nonce, args)
  // saved after the warning came: the job need not wait for its checkpoint function any longer
  if (env.warned) env.notifyCheckpointed()
}
