// Whether a module is the script the process was started with (`node main.js`, `tsx main.ts`).
// A worker imports a task's module to find the task: if that module is the entry script, the import
// runs the script again inside the worker (which submits again, spawning threads without end), or,
// with top-level await, waits on the script's own unfinished evaluation (node exits with 13).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
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
/** how a job's own process (isolation: 'process') learns the submitter's entry script */
export const ENTRY_ENV = 'SUBMITIT_ENTRY_SCRIPT'

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
  const main = process.env[ENTRY_ENV] || (isMainThread ? mainArg() : getEnvironmentData(KEY))
  if (typeof main !== 'string' || !main) return entries
  const abs = path.resolve(main)
  for (const f of [abs, ...EXTENSIONS.map((e) => abs + e)]) {
    const r = real(f)
    if (r && fs.statSync(r).isFile()) entries.add(r)
  }
  return entries
}

const checked = new Map<string, string | undefined>()

/** The entry script this process (or thread) was started for, as the main thread gives it ('' when none). */
export function entryScriptArg(): string {
  const main = process.env[ENTRY_ENV] || (isMainThread ? mainArg() : getEnvironmentData(KEY))
  return typeof main === 'string' && main !== '' ? path.resolve(main) : ''
}

/**
 * Whether the code calling the caller of this function is the entry script (its stack tells): the
 * script running again in a worker that imported it.
 */
export function calledFromEntryScript(): boolean {
  for (const line of (new Error().stack ?? '').split('\n').slice(3)) {
    const m = /(file:\/\/[^\s)]+?|\/[^\s():]+):\d+:\d+\)?$/.exec(line)
    if (!m) continue
    const url = m[1].startsWith('file:') ? m[1] : pathToFileURL(m[1]).href
    if (entryScriptOf(url)) return true
  }
  return false
}

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

// import/export ... from 'x', import 'x': what a module loads when it is imported (a dynamic import()
// in a function may never run: not followed)
const IMPORTS = /\b(?:import|export)\s[^'"`;]*?\bfrom\s*(['"])([^'"\n]+)\1|\bimport\s*(['"])([^'"\n]+)\3/g
// what a .js specifier may be on disk (tsx maps x.js to x.ts)
const TWINS: Record<string, string[]> = { '.js': ['.ts', '.tsx'], '.mjs': ['.mts'], '.cjs': ['.cts'], '.jsx': ['.tsx'] }
/** files looked at, at most, from one module: a task module's own code, not a whole project */
const SCAN_MAX = 200

/** The files a relative or file: specifier may name from `from` (a file), as node or tsx would find them. */
function candidates(spec: string, from: string): string[] {
  let base: string
  if (spec.startsWith('file:')) {
    try {
      base = fileURLToPath(spec)
    } catch {
      return []
    }
  } else if (spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/')) base = path.resolve(path.dirname(from), spec.replace(/[?#].*$/, ''))
  else return [] // a package: not the user's script
  const ext = path.extname(base)
  const out = [base, ...(TWINS[ext] ?? []).map((e) => base.slice(0, -ext.length) + e)]
  if (!ext) out.push(...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => path.join(base, `index${e}`)))
  return out
}

const chains = new Map<string, string[] | undefined>()

/**
 * The chain of imports by which the module at `moduleUrl` loads the script being run (read from the
 * sources: static imports, relative or file: specifiers), or undefined. A
 * worker importing such a module would run the script again (and the submitter's import of it, with
 * top-level await, would wait on the script's own evaluation for ever).
 */
export function entryImportChain(moduleUrl: string): string[] | undefined {
  if (chains.has(moduleUrl)) return chains.get(moduleUrl)
  let chain: string[] | undefined
  const entry = entryFiles()
  if (entry.size > 0 && moduleUrl.startsWith('file:')) {
    let start: string
    try {
      start = real(fileURLToPath(moduleUrl.replace(/[?#].*$/, ''))) ?? ''
    } catch {
      start = ''
    }
    // breadth first: the shortest chain, each file read once
    const parent = new Map<string, string | null>([[start, null]])
    const queue = start ? [start] : []
    while (queue.length > 0 && parent.size <= SCAN_MAX && !chain) {
      const file = queue.shift()!
      if (file.split(path.sep).includes('node_modules')) continue
      let source: string
      try {
        source = fs.readFileSync(file, 'utf8')
      } catch {
        continue
      }
      // comments name no import (a // inside a string may cut a line short: only a miss)
      for (const m of source.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '').matchAll(IMPORTS)) {
        const spec = m[2] ?? m[4]
        for (const c of candidates(spec, file)) {
          const r = real(c)
          if (!r || parent.has(r)) continue
          if (!fs.statSync(r).isFile()) continue
          parent.set(r, file)
          if (entry.has(r)) {
            chain = [r]
            for (let f: string | null = file; f; f = parent.get(f) ?? null) chain.unshift(f)
            break
          }
          queue.push(r)
        }
        if (chain) break
      }
    }
  }
  chains.set(moduleUrl, chain)
  return chain
}

/** The error for a task whose module imports the script being run: `chain` from that module to the script. */
export function entryImportError(chain: string[], task: string): TypeError {
  return new TypeError(
    `the module of ${task ? `task ${task}` : 'the task'} imports the script being run: ${chain.join(' → ')}. A worker imports a ` +
      `task's module to find it, which would run this script again (and, with top-level await, this submit would wait on ` +
      `the script for ever). Move what the task's module takes from the script (constants, helpers) to a module of their own.`,
  )
}
