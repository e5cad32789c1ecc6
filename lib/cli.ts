#!/usr/bin/env node
// The submitit-ts command: see and steer jobs from their folder, from any shell, while they run or
// after, for local and Slurm jobs alike. One module per command in lib/cli/.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { pathToFileURL } from 'node:url'
import './backends.js' // the registry of backends (built-in ones listed there): how to watch each one's jobs
import { clean } from './cli/clean.js'
import { CliError, folderTemplate, type Io } from './cli/common.js'
import { cancel, logs, result, status, wait } from './cli/jobs.js'
import { list } from './cli/list.js'
import { report } from './cli/report.js'
import { rerunCommand } from './cli/rerun.js'
import { watch } from './cli/watch.js'
import { BackendError } from './core/errors.js'

interface Command {
  /** what follows the command in its usage line, and what it does */
  usage: string
  help: string
  /** how many positionals after the command: [min, max] */
  args: [number, number]
  options: NonNullable<ParseArgsConfig['options']>
  run: (folder: string, ids: string[], values: Record<string, unknown>, io: Io) => Promise<number>
}

const json = { json: { type: 'boolean' } } as const
const COMMANDS: Record<string, Command> = {
  list: {
    usage: '<folder> [--limit N]',
    help: 'every array and job there, newest first, with state counts',
    args: [1, 1],
    options: { ...json, limit: { type: 'string' } },
    run: (f, _, v, io) => list(f, { json: v.json as boolean, limit: v.limit === undefined ? undefined : positive(v.limit as string, '--limit') }, io),
  },
  status: {
    usage: '<folder> <id>... [--all]',
    help: 'state, duration and host of each job (an array: summarised)',
    args: [2, Infinity],
    options: { ...json, all: { type: 'boolean' } },
    run: (f, ids, v, io) => status(f, ids, v, io),
  },
  wait: {
    usage: '<folder> <id>...',
    help: 'until they end (exit 1 unless all COMPLETED)',
    args: [2, Infinity],
    options: json,
    run: (f, ids, v, io) => wait(f, ids, v, io),
  },
  result: {
    usage: '<folder> <id>...',
    help: 'the value, or the error with the remote stack (exit 1)',
    args: [2, Infinity],
    options: json,
    run: (f, ids, v, io) => result(f, ids, v, io),
  },
  logs: {
    usage: '<folder> <id>... [--err] [--task N]',
    help: 'what the job printed (stdout, or stderr with --err)',
    args: [2, Infinity],
    options: { ...json, err: { type: 'boolean' }, task: { type: 'string' } },
    run: (f, ids, v, io) => logs(f, ids, v, io),
  },
  cancel: {
    usage: '<folder> <id>...',
    help: 'scancel (a local job: from the process that runs it)',
    args: [2, Infinity],
    options: json,
    run: (f, ids, v, io) => cancel(f, ids, v, io),
  },
  rerun: {
    usage: '<folder> <id>... [--set name=value]... [--all]',
    help: 'submit the failed, cancelled or timed-out jobs again',
    args: [2, Infinity],
    options: { ...json, set: { type: 'string', multiple: true }, all: { type: 'boolean' } },
    run: (f, ids, v, io) => rerunCommand(f, ids, v, io),
  },
  clean: {
    usage: '<folder> [<id>...] [--older-than 7d] [--state completed] [--dry-run]',
    help: 'remove the files of finished jobs (never of unfinished ones)',
    args: [1, Infinity],
    options: { ...json, 'older-than': { type: 'string' }, state: { type: 'string', multiple: true }, 'dry-run': { type: 'boolean', short: 'n' } },
    run: (f, ids, v, io) => clean(f, ids, v, io),
  },
  watch: {
    usage: '<folder> <id> [--interval S]',
    help: 'a live progress bar until the jobs end',
    args: [2, 2],
    options: { interval: { type: 'string' } },
    run: (f, ids, v, io) => watch(f, ids[0], v, io),
  },
  report: {
    usage: '<folder> <id> --html out.html',
    help: 'an HTML page: timeline, durations, slowest and failed jobs',
    args: [2, 2],
    options: { html: { type: 'string' } },
    run: (f, ids, v, io) => report(f, ids[0], v, io),
  },
}

function commandLine(name: string): string {
  const c = COMMANDS[name]
  const head = `  ${name} ${c.usage}`
  return head.length < 35 ? `${head.padEnd(35)}${c.help}` : `${head}\n${' '.repeat(35)}${c.help}`
}

const USAGE = `usage: submitit-ts <command> <folder> [<id>...] [options]

<folder> is the executor's folder (its template, e.g. 'logs/%j', or a plain path).
<id> is a job id (A_3, or A for a single job) or an array id (A: all its jobs).

commands:
${Object.keys(COMMANDS).map(commandLine).join('\n')}
  help                             this text

options:
  --json                           one JSON document on stdout (${Object.keys(COMMANDS)
    .filter((n) => 'json' in COMMANDS[n].options)
    .join(', ')})
  -h, --help                       this text

exit status: 0 ok; 1 a job failed, or an id or folder is not there; 2 bad usage

environment:
  SUBMITIT_PLUGINS                 modules to import first, comma-separated (paths or package names):
                                   each registers its backend (registerBackend) so that its jobs can be read`

/** A command's own usage, as git prints it for a bad option: its line and where the rest is. */
function commandUsage(name: string): string {
  const options = Object.entries(COMMANDS[name].options)
    .map(([o, spec]) => `--${o}${spec.type === 'string' ? ' <value>' : ''}`)
    .join(' ')
  return `usage: submitit-ts ${name} ${COMMANDS[name].usage}${options ? `\n       options: ${options}` : ''}\n(submitit-ts help: every command)`
}

function positive(text: string, name: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} takes a positive whole number, not '${text}'`, 2)
  return n
}

/**
 * Imports the plugin modules SUBMITIT_PLUGINS names (comma-separated; a path, or a package resolved
 * from the current directory): each registers its backend, so that the jobs it ran can be read.
 */
export async function loadPlugins(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const specs = (env.SUBMITIT_PLUGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const require = createRequire(path.join(process.cwd(), 'noop.js'))
  for (const spec of specs) {
    const isPath = spec.startsWith('.') || path.isAbsolute(spec)
    try {
      let url: string
      if (isPath) url = pathToFileURL(path.resolve(spec)).href
      else {
        try {
          url = pathToFileURL(require.resolve(spec)).href
        } catch {
          url = spec // an ES-only package: let import() resolve it
        }
      }
      await import(url)
    } catch (e) {
      throw new CliError(`SUBMITIT_PLUGINS: cannot load the plugin ${JSON.stringify(spec)}: ${(e as Error)?.message ?? String(e)}`, 2)
    }
  }
}

/** Runs one command; returns the exit code (0 ok, 1 failed or not found, 2 bad usage). */
export async function cli(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const io: Io = { out, err }
  const name = argv.find((a) => !a.startsWith('-'))
  if (argv.length === 0) {
    err(USAGE)
    return 2
  }
  if (name === 'help' || (name === undefined && argv.some((a) => a === '--help' || a === '-h'))) {
    out(USAGE)
    return 0
  }
  const command = name === undefined ? undefined : COMMANDS[name]
  if (!command) {
    err(name === undefined ? USAGE : `submitit-ts: '${name}' is not a command; the commands are: ${Object.keys(COMMANDS).join(', ')}\n\n${USAGE}`)
    return 2
  }
  let values: Record<string, unknown>
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    }))
  } catch (e) {
    err(`submitit-ts ${name}: ${(e as Error).message}\n\n${commandUsage(name!)}`)
    return 2
  }
  if (values.help) {
    out(USAGE)
    return 0
  }
  const [, given, ...ids] = positionals
  const count = positionals.length - 1
  if (count < command.args[0] || count > command.args[1]) {
    const what = command.args[0] === 1 ? 'a folder' : 'a folder and ' + (command.args[1] === 2 ? 'one id' : 'at least one id')
    err(`submitit-ts ${name}: needs ${what}${count > command.args[1] ? `, got ${count} arguments` : ''}\n\n${commandUsage(name!)}`)
    return 2
  }
  try {
    await loadPlugins()
    return await command.run(folderTemplate(given), ids, values, io)
  } catch (e) {
    if (e instanceof BackendError) {
      err(`submitit-ts ${name}: ${e.message}`)
      return 1
    }
    if (e instanceof CliError) {
      err(`submitit-ts ${name}: ${e.message}`)
      if (e.code === 2) err(`\n${commandUsage(name!)}`)
      return e.code
    }
    // a file that cannot be read, a scheduler command that failed...: what it says, not a stack trace
    err(`submitit-ts ${name}: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}

// run as a command (also through npm's bin link, hence the real path)
if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  // a reader that went away (\`| head\`): stop quietly, as git and ls do, not with a stack trace
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      throw e
    })
  }
  // the command is over: end here, once what it printed is out, rather than when every timer
  // is gone (a Slurm poller of the jobs a Ctrl-C'd watch was following would keep it alive)
  const exit = (code: number) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
  cli(
    process.argv.slice(2),
    (s) => console.log(s),
    (s) => console.error(s),
  ).then(exit, (e: Error) => {
    console.error(`submitit-ts: ${e.message}`)
    exit(1)
  })
}
