// submitit.helpers.CommandFunction: a command line as a task. `runCommand` is an exported task, so
// any executor can run it: `await ex.submit(runCommand, ['python', 'train.py', '--lr', '0.1'])`.
import { task } from '../core/task.js'
import { guardGroup } from './process-group.js'

export interface CommandOptions {
  cwd?: string
  env?: Record<string, string>
  /** print the command's output into the job's logs as it runs (default true) */
  verbose?: boolean
}

/**
 * Runs `command` (an argv array: no shell) and resolves with its stdout; a non-zero exit fails the job
 * with its stderr. The command runs in its own process group, which is killed (SIGTERM, then SIGKILL
 * after 2 s) when it ends, when its job times out or is cancelled, and when this process goes (see
 * process-group.ts): nothing it started in the background outlives the job.
 */
export const runCommand = task(import.meta.url, async (command: string[], options: CommandOptions = {}): Promise<string> => {
  if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string')) {
    throw new TypeError('runCommand: the command must be a non-empty array of strings (argv, no shell)')
  }
  const { execa } = await import('execa') // only now: loading execa costs ~0.1-0.3 s of CPU, and every task module imports this one
  const child = execa(command[0], command.slice(1), {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    reject: false,
    all: false,
    // its own process group, so that the group can be killed as a whole
    detached: true,
  })
  if (child.pid !== undefined) {
    const guard = guardGroup(child.pid)
    // when the command itself exits: a background child still holding its output would otherwise keep the job waiting, or outlive it
    child.once('exit', () => guard.release())
  }
  if (options.verbose ?? true) {
    child.stdout?.on('data', (d: Buffer) => process.stdout.write(d))
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(d))
  }
  const r = await child
  if (r.exitCode !== 0 || r.failed) {
    const why = r.exitCode !== undefined ? `exit code ${r.exitCode}` : r.shortMessage
    throw Object.assign(
      new Error(
        `command failed (${why}): ${command.join(' ')}\n${String(r.stderr ?? '')
          .trim()
          .split('\n')
          .slice(-20)
          .join('\n')}`,
      ),
      { name: 'CommandError', exitCode: r.exitCode, command },
    )
  }
  return String(r.stdout)
})
