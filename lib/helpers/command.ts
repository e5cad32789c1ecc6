// submitit.helpers.CommandFunction: a command line as a task. `runCommand` is an exported task, so
// any executor can run it: `await ex.submit(runCommand, ['python', 'train.py', '--lr', '0.1'])`.
import { task } from '../core/task.js'
import { runInGroup } from './process-group.js'

export interface CommandOptions {
  cwd?: string
  env?: Record<string, string>
  /** print the command's output into the job's logs as it runs (default true) */
  verbose?: boolean
}

/**
 * Runs `command` (an argv array: no shell) and resolves with its stdout (its final newline removed);
 * a non-zero exit fails the job with its stderr. The command runs in its own process group, which is
 * killed (SIGTERM, then SIGKILL after 2 s) when it ends, when its job times out or is cancelled, and
 * when this process goes (see process-group.ts): nothing it started in the background outlives the job.
 */
export const runCommand = task(import.meta.url, async (command: string[], options: CommandOptions = {}): Promise<string> => {
  if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string')) {
    throw new TypeError('runCommand: the command must be a non-empty array of strings (argv, no shell)')
  }
  const verbose = options.verbose ?? true
  // started by its guard (see runInGroup): no instant in which a stopped job leaves it running
  const r = await runInGroup(command, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    onStdout: verbose ? (d) => process.stdout.write(d) : undefined,
    onStderr: verbose ? (d) => process.stderr.write(d) : undefined,
  })
  if (r.exitCode !== 0 || r.error !== undefined) {
    const why = r.error ?? (r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`)
    throw Object.assign(new Error(`command failed (${why}): ${command.join(' ')}\n${r.stderr.trim().split('\n').slice(-20).join('\n')}`), {
      name: 'CommandError',
      exitCode: r.exitCode ?? undefined,
      command,
    })
  }
  return r.stdout.replace(/\r?\n$/, '') // as a shell's $(...) gives it
})
