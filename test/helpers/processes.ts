// Child processes for the tests: a plain environment, run to the end, start until a line, liveness.
import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from './paths.js'

/** An environment for child processes without tap's loaders (a plain `node`). */
export function plainEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra }
  delete env.NODE_OPTIONS
  for (const k of Object.keys(env)) if (k.startsWith('TAP') || k.startsWith('_TAPJS')) delete env[k]
  return env
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

export interface RunOptions {
  /** default: the repository's root */
  cwd?: string
  /** default: plainEnv() */
  env?: NodeJS.ProcessEnv
  /** killed (SIGKILL) after this; default 60 s */
  timeoutMs?: number
}

/** Runs `cmd ...args` to its end, collecting its output; a command that cannot start says why in stderr. */
export function runProcess(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? plainEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', (e) => {
      stderr += `\n[spawn ${cmd}: ${e.message}]`
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 })
    })
  })
}

/** Runs `node ...args` to its end (see runProcess). */
export function runNode(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, args, opts)
}

/** Starts `node ...args` and resolves with the child once its stdout has printed a line matching `re`. */
export function startNode(
  args: string[],
  re: RegExp,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: opts.env ?? plainEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no ${re} within the time; stdout: ${out}; stderr: ${err}`))
    }, opts.timeoutMs ?? 60_000)
    child.stdout.on('data', (d) => {
      out += d
      const m = re.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ child, match: m, output: () => out + err })
      }
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited (${code}) before printing ${re}; stdout: ${out}; stderr: ${err}`))
    })
  })
}

/** Writes an ES module script into `dir` and returns its path. */
export function writeScript(dir: string, name: string, source: string): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, source)
  return file
}

/** Alive and not a zombie (an orphan's zombie stays until PID 1 reaps it, which some containers never do). */
export function isAlive(pid: number): boolean {
  try {
    return !/^State:\s*Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}
