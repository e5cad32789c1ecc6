// Whether a module is the script the process was started with (`node main.js`, `tsx main.ts`).
// A worker imports a task's module to find the task: if that module is the entry script, the import
// runs the script again inside the worker (which submits again, spawning threads without end), or,
// with top-level await, waits on the script's own unfinished evaluation (node exits with 13).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { getEnvironmentData, isMainThread, setEnvironmentData } from 'node:worker_threads'

// what node (`node main`) and tsx (`tsx main`) may have added to an entry given without extension
const EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts', '.tsx']

const real = (file: string): string | undefined => {
  try {
    return fs.realpathSync(file)
  } catch {
    return undefined
  }
}

const KEY = 'submitit-ts.entry-script'

/** process.argv[1] of the main thread, '' when there is no script (`node -e code arg`: an argument). */
function mainArg(): string {
  return process.execArgv.some((a) => /^(-[ep]+|--eval|--print)(=|$)/.test(a)) ? '' : (process.argv[1] ?? '')
}

// A worker thread's argv is [node, its own file], so the main thread hands its entry to the threads
// it starts (environment data is copied into every new Worker). Set when this module loads, before
// any pool exists. A Slurm job's worker (`node dist/worker/main.js`) is a main thread of its own.
if (isMainThread) setEnvironmentData(KEY, mainArg())

let entries: Set<string> | undefined

/** The real paths the entry script may be. */
function entryFiles(): Set<string> {
  if (entries) return entries
  entries = new Set()
  const main = isMainThread ? mainArg() : getEnvironmentData(KEY)
  if (typeof main !== 'string' || !main) return entries
  const abs = path.resolve(main)
  for (const f of [abs, ...EXTENSIONS.map((e) => abs + e)]) {
    const r = real(f)
    if (r && fs.statSync(r).isFile()) entries.add(r)
  }
  return entries
}

const checked = new Map<string, string | undefined>()

/** The file of `moduleUrl` when it is the process's entry script, else undefined. */
export function entryScriptOf(moduleUrl: string): string | undefined {
  if (!checked.has(moduleUrl)) checked.set(moduleUrl, check(moduleUrl))
  return checked.get(moduleUrl)
}

function check(moduleUrl: string): string | undefined {
  if (!moduleUrl.startsWith('file:')) return undefined
  let file: string
  try {
    const u = new URL(moduleUrl)
    u.search = ''
    u.hash = ''
    file = fileURLToPath(u)
  } catch {
    return undefined
  }
  const files = entryFiles()
  if (files.size === 0) return undefined
  return files.has(real(file) ?? file) ? file : undefined
}

/**
 * The error for a task defined in the script being run (`task` is its name, '' when it has none), or,
 * without `task`, for any module a job needs (a serializable class's).
 */
export function entryScriptError(file: string, task?: string): TypeError {
  const what = task === undefined ? 'a job needs a module that is' : `the task ${task ? `${task} ` : ''}is defined in`
  const move = task === undefined ? 'what the job uses from it (tasks, serializable classes)' : 'the task'
  return new TypeError(
    `${what} the script being run (${file}): a worker imports a task's module to find it, ` +
      `which would run this script again. Move ${move} to its own module (e.g. tasks.ts) and import it from this script.`,
  )
}
