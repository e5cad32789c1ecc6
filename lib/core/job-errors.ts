// Why a job ended without a value, when the task itself did not throw: real classes, so that a
// caller can test `e.cause instanceof TimeoutError` (a FailedJobError's cause) as with execa's
// flags. They are made in the worker or the executor, travel in result files like any error, and are
// re-created as these classes (serializable), in any process that reads them.
import { serializable } from './values.js'

/** The job ran past its time limit (timeoutMin, Slurm's --time) and was stopped. */
export class TimeoutError extends Error {
  override name = 'TimeoutError'
}

/** The job was cancelled (before it started, or while it ran). */
export class CancelledError extends Error {
  override name = 'CancelledError'
}

/** The thread or process running the job died (process.exit, a crash, out of memory). */
export class WorkerCrashError extends Error {
  override name = 'WorkerCrashError'
}

/** The job ended, but its result file could not be written (disk full, folder gone). */
export class ResultWriteError extends Error {
  override name = 'ResultWriteError'
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message)
  }
}

for (const cls of [TimeoutError, CancelledError, WorkerCrashError, ResultWriteError]) serializable(import.meta.url, cls)

/** The error of a job cancelled before it started. */
export function cancelledBeforeStart(jobId: string): CancelledError {
  return new CancelledError(`job ${jobId} was cancelled before it started`)
}
