// submitit.helpers.CommandFunction: a command line as a task. `runCommand` is an exported task, so
// any executor can run it: `await ex.submit(runCommand, ['python', 'train.py', '--lr', '0.1'])`.
import { execa } from 'execa'
import { task } from '../core/task.js'

export interface CommandOptions {
  cwd?: string
  env?: Record<string, string>
  /** print the command's output into the job's logs as it runs (default true) */
  verbose?: boolean
}

/** Runs `command` (an argv array: no shell) and resolves with its stdout; a non-zero exit fails the job with its stderr. */
export const runCommand = task(import.meta.url, async (command: string[], options: CommandOptions = {}): Promise<string> => {
  if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string')) {
    throw new TypeError('runCommand: the command must be a non-empty array of strings (argv, no shell)')
  }
  const child = execa(command[0], command.slice(1), {
    cwd: options.cwd, env: options.env, extendEnv: true, reject: false, all: false,
  })
  if (options.verbose ?? true) {
    child.stdout?.on('data', (d: Buffer) => process.stdout.write(d))
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(d))
  }
  const r = await child
  if (r.exitCode !== 0 || r.failed) {
    const why = r.exitCode !== undefined ? `exit code ${r.exitCode}` : r.shortMessage
    throw Object.assign(new Error(`command failed (${why}): ${command.join(' ')}\n${String(r.stderr ?? '').trim().split('\n').slice(-20).join('\n')}`),
      { name: 'CommandError', exitCode: r.exitCode, command })
  }
  return String(r.stdout)
})
