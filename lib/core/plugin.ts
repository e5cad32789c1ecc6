// What a third-party backend (a plugin: PBS, LSF, Grid Engine...) needs beyond Executor and the
// registry: write a submission where every tool finds it, make its Job objects, and the command a
// scheduler runs on a node for one element (the same worker the Slurm batch script runs).
// See the plugin test (test/backends-plugin.test.ts) for a whole backend.
import { fileURLToPath } from 'node:url'
import { makeFolder, type SubmissionRecord, writeAtomic } from './format.js'
import { Job, type JobWatcher } from './job.js'
import { JobPaths, makeJobId, submittedPath } from './paths.js'

const WORKER_MAIN = fileURLToPath(new URL('../../worker/main.js', import.meta.url))

/**
 * Writes an encoded submission (`executor.encodeSubmission(record)`, which refuses one over
 * maxSubmissionSizeGb) where its workers, attachJob and the command line look for it. Returns its path.
 */
export function writeSubmission(record: SubmissionRecord, bytes: Uint8Array): string {
  const file = submittedPath(record.folder, record.arrayId, record.isArray)
  makeFolder(new JobPaths(record.folder, record.arrayId, { arrayId: record.arrayId, index: null }).arrayFolder)
  writeAtomic(file, bytes)
  return file
}

/** The jobs of a submission (one per element), watched by `watcher`. */
export function jobsOfSubmission(record: SubmissionRecord, watcher: JobWatcher): Job<unknown>[] {
  const numTasks = record.params.tasksPerNode * record.params.nodes
  return record.args.map((_, i) => {
    const index = record.isArray ? i : null
    return new Job(new JobPaths(record.folder, makeJobId(record.arrayId, index), { arrayId: record.arrayId, index }), numTasks, watcher, record.nonce)
  })
}

/**
 * The command that runs task `task` of element `index` (null for a single job) of a submission, on
 * a node that sees its folder: this node binary and the worker of this installation. Its stdout and
 * stderr are the task's logs (`job.paths.stdout(task)`, `.stderr(task)`): redirect them there. It
 * exits 0 once the task's result is written, 1 when the task failed.
 */
export function workerCommand(record: SubmissionRecord, index: number | null, task = 0): string[] {
  const argv = [process.execPath, WORKER_MAIN, record.folder, '--array-id', record.arrayId, '--task', String(task), '--nonce', record.nonce]
  if (index !== null) argv.push('--index', String(index))
  return argv
}
