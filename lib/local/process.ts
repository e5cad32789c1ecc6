// isolation: 'process': a job runs in a process of its own (worker/process.ts), forked per job, as
// a node would run it. The executor marks the element running itself (no memory is shared with a
// process), answers warnings over IPC, and stops the job by killing its process.
import { type ChildProcess, fork, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ENTRY_ENV, entryScriptArg } from '../core/entry-script.js'
import { CHECKPOINTED, CURRENT, type RunReply, type RunRequest } from '../core/protocol.js'
import type { Chunk } from './array.js'
import type { FromJob, ToJob } from '../../worker/process.js'

const PROCESS_FILE = fileURLToPath(new URL('../../worker/process.js', import.meta.url))
/** after SIGTERM, a job's process has this long to go before SIGKILL */
const KILL_GRACE_MS = 2_000

let exitHook = false

/** exit status of the shell when a setup line failed (its report says which) */
const SETUP_FAILED = 79

/** What a job's process is started with (the LocalExecutor's parameters). */
export interface ProcessOptions {
  /** heap limit, GB */
  memGb?: number
  /** shell lines run before the job's process, in its shell (their exports reach it) */
  setup?: readonly string[]
}

/** A shell word holding `s` as it is. */
const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

/**
 * The script that runs the setup lines, one after the other in one shell, then execs node (which
 * keeps the IPC channel, an inherited descriptor). Before each line its number goes to the report
 * file; a line that fails writes its exit status and output there, and the shell exits
 * SETUP_FAILED. A line's output is kept apart while it runs, then copied to the process's stderr.
 */
function setupScript(lines: readonly string[]): string {
  const out: string[] = ['__r="$SUBMITIT_SETUP_REPORT"', 'unset SUBMITIT_SETUP_REPORT']
  lines.forEach((line, i) => {
    out.push(
      `printf '%s\\n' ${i + 1} > "$__r"`,
      `eval ${quote(line)} < /dev/null > "$__r.out" 2>&1 || { printf '%s\\n' "$?" >> "$__r"; exit ${SETUP_FAILED}; }`,
      'cat "$__r.out" >&2',
    )
  })
  out.push('rm -f "$__r" "$__r.out"', 'exec "$0" "$@"')
  return out.join('\n')
}

/** Why the setup made the process end, from its report file (undefined: the setup was not the cause). */
function setupFailure(report: string, lines: readonly string[], code: number | null, signal: NodeJS.Signals | null): string | undefined {
  let text: string
  try {
    text = fs.readFileSync(report, 'utf8')
  } catch {
    return undefined // gone: the setup finished (the script removes it before exec)
  }
  const [n, status] = text.split('\n')
  const line = lines[Number(n) - 1]
  if (line === undefined) return undefined
  let output = ''
  try {
    output = fs.readFileSync(`${report}.out`, 'utf8').trimEnd()
  } catch {}
  const tail = output.length > 4000 ? `...${output.slice(-4000)}` : output
  const how =
    code === SETUP_FAILED && status
      ? `exited with status ${status}`
      : `ended the shell (${signal ? `signal ${signal}` : `exit status ${code}`}; a line that exits or execs ends the setup)`
  return `setup line ${n} of ${lines.length}, ${JSON.stringify(line)}, ${how}: ${tail ? `its output:\n${tail}` : 'it printed nothing'}`
}

/** Runs the chunk (one element) in a new process; rejects when the process ends without a reply. */
export function runInProcess(chunk: Chunk, req: RunRequest, options: ProcessOptions, children: Set<ChildProcess>): Promise<RunReply> {
  const { control, startedAt } = chunk.memory
  const { memory: _shared, ...request } = req
  const { memGb, setup = [] } = options
  // a fresh node: no inherited loader flags (tsx is registered on demand for .ts tasks)
  const execArgv = memGb === undefined ? [] : [`--max-old-space-size=${Math.max(16, Math.floor(memGb * 1024))}`]
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc']
  let report: string | undefined
  let child: ChildProcess
  if (setup.length === 0) {
    child = fork(PROCESS_FILE, [], { execArgv, serialization: 'advanced', stdio, env: { ...process.env, [ENTRY_ENV]: entryScriptArg() } })
  } else {
    // the lines run in a shell that then becomes the job's node (exec): their exports and cd reach it
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'submitit-setup-'))
    report = path.join(dir, 'report')
    child = spawn('/bin/sh', ['-c', setupScript(setup), process.execPath, ...execArgv, PROCESS_FILE], {
      serialization: 'advanced',
      stdio,
      env: { ...process.env, SUBMITIT_SETUP_REPORT: report, [ENTRY_ENV]: entryScriptArg() },
    })
  }
  const cleanUp = () => {
    if (report) fs.rmSync(path.dirname(report), { recursive: true, force: true })
  }
  children.add(child)
  if (!exitHook) {
    exitHook = true
    // nothing left running: a job's process dies with its executor's (kill -9 too: see worker/process.ts)
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL')
    })
  }
  startedAt[0] = Date.now() // until the process says it started the task (see 'started')
  Atomics.store(control, CURRENT, chunk.first)
  chunk.warn = (index) => child.send({ warn: index } satisfies ToJob, () => {})
  chunk.abort!.once('abort', () => {
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref()
  })
  return new Promise<RunReply>((resolve, reject) => {
    let reply: RunReply | undefined
    child.on('message', (message: FromJob) => {
      if ('started' in message) startedAt[0] = Date.now()
      else if ('reply' in message) reply = message.reply
      else Atomics.store(control, CHECKPOINTED, message.checkpointed)
    })
    child.on('error', (error) => {
      children.delete(child)
      cleanUp()
      reject(error)
    })
    child.on('exit', (code, signal) => {
      children.delete(child)
      const setupFailed = report && !reply ? setupFailure(report, setup, code, signal) : undefined
      cleanUp()
      if (reply) {
        Atomics.store(control, CURRENT, -1)
        resolve(reply)
      } else if (setupFailed) {
        reject(new Error(setupFailed))
      } else {
        reject(new Error(`its process ended ${signal ? `by signal ${signal}` : `with exit code ${code}`} before it answered`))
      }
    })
    // a process that ends first (a failing setup line) cannot take it: its 'exit' says why, not EPIPE
    child.send({ run: request } satisfies ToJob, () => {})
  })
}
