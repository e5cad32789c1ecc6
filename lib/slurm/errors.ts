// Errors raised by the Slurm command wrappers. They carry the exact command and
// the scheduler's stderr, because that text is usually the only useful diagnosis.

/** A Slurm command (sacct, squeue, scancel, scontrol) exited non-zero or could not start. */
export class SlurmCommandError extends Error {
  readonly command: string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(command: string[], exitCode: number | undefined, stderr: string, cause?: unknown) {
    const what = stderr.trim() || (cause instanceof Error ? cause.message : 'no error output');
    super(`${command[0] ?? 'slurm command'} failed (exit code ${exitCode ?? 'none'}): ${what}`, { cause });
    this.name = 'SlurmCommandError';
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** sbatch refused the job (bad partition, invalid gres, controller down, ...). */
export class FailedSubmissionError extends SlurmCommandError {
  constructor(command: string[], exitCode: number | undefined, stderr: string, cause?: unknown) {
    super(command, exitCode, stderr, cause);
    this.name = 'FailedSubmissionError';
    this.message = `sbatch failed (exit code ${exitCode ?? 'none'}): ${stderr.trim() || 'no error output'}\ncommand: ${command.join(' ')}`;
  }
}
