// Errors raised by the Slurm command wrappers. They carry the exact command and
// the scheduler's stderr, because that text is usually the only useful diagnosis.
import { FailedJobError } from '../core/errors.js'

/** A Slurm command (sacct, squeue, scancel, scontrol) exited non-zero or could not start. */
export class SlurmCommandError extends Error {
  readonly command: string[]
  readonly exitCode: number | undefined
  readonly stderr: string

  constructor(command: string[], exitCode: number | undefined, stderr: string, cause?: unknown) {
    const what = stderr.trim() || (cause instanceof Error ? cause.message : 'no error output')
    super(`${command[0] ?? 'slurm command'} failed (exit code ${exitCode ?? 'none'}): ${what}`, { cause })
    this.name = 'SlurmCommandError'
    this.command = command
    this.exitCode = exitCode
    this.stderr = stderr
  }
}

/** sbatch refused the job (bad partition, invalid gres, controller down, ...). */
export class FailedSubmissionError extends SlurmCommandError {
  constructor(command: string[], exitCode: number | undefined, stderr: string, cause?: unknown) {
    super(command, exitCode, stderr, cause)
    this.name = 'FailedSubmissionError'
    this.message = `sbatch failed (exit code ${exitCode ?? 'none'}): ${stderr.trim() || 'no error output'}\ncommand: ${command.join(' ')}`
  }
}

/**
 * Slurm keeps the job pending for a reason that means it never starts (NEVER_RUNNABLE_REASONS in
 * parse.ts, e.g. DependencyNeverSatisfied, PartitionNodeLimit): result() and wait() reject with it
 * instead of waiting forever. A job submitted by this process is cancelled first (`cancelled`).
 */
export class JobNeverRunsError extends FailedJobError {
  override name = 'JobNeverRunsError'
  constructor(
    jobId: string,
    readonly reason: string,
    readonly cancelled: boolean,
    logs: { stdout: string; stderr: string },
  ) {
    super(
      `job ${jobId} can never start: Slurm keeps it PENDING with reason ${reason}` +
        (cancelled ? '; it was cancelled (scancel)' : '; it is left in the queue (scancel it, or fix what the reason says)'),
      jobId,
      cancelled ? 'CANCELLED' : 'PENDING',
      undefined,
      logs,
    )
  }
}
