// JavaScript cannot pickle a function, so a task is a module export named by reference: the module's
// URL plus the export's name, found by identity so that no string has to be kept in sync.
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { entryImportChain, entryImportError, entryScriptError, entryScriptOf } from './entry-script.js'

/** A reference to an exported function, as stored in a submission file. */
export interface TaskRef {
  module: string
  exportName: string
  /** it has a checkpoint function: warn it before stopping it (see TaskOptions.checkpoint) */
  checkpoint?: boolean
}

const MODULE = Symbol.for('submitit-ts.task.module')
const CHECKPOINT = Symbol.for('submitit-ts.task.checkpoint')

export interface TaskOptions<A extends unknown[]> {
  /**
   * Called in the job when Slurm warns of its end (time limit near, with `signalDelayS`, or
   * preemption): save what the task has done, and return the arguments it should be re-run with.
   * The job is then requeued and runs again with them (submitit's Checkpointable).
   */
  checkpoint?: (...args: A) => [...A] | Promise<[...A]>
}

/** A function marked with the module that exports it. Still callable as it was. */
export type Task<A extends unknown[], R> = ((...args: A) => R) & { readonly [MODULE]: string }

/** An explicit reference, typed by the function it names. */
export interface TypedTaskRef<A extends unknown[], R> extends TaskRef {
  readonly __types?: (...args: A) => R
}

/** Anything `submit` accepts. */
export type TaskLike<A extends unknown[], R> = Task<A, R> | TypedTaskRef<A, R>

/**
 * Marks `fn` as a task exported from the module at `moduleUrl` (pass `import.meta.url`):
 *   export const train = task(import.meta.url, async (lr: number) => ...)
 */
export function task<A extends unknown[], R>(moduleUrl: string, fn: (...args: A) => R, options: TaskOptions<A> = {}): Task<A, R> {
  if (typeof fn !== 'function') throw new TypeError(`task(): expected a function, got ${typeof fn}`)
  if (typeof moduleUrl !== 'string' || !/^[a-z]+:/.test(moduleUrl)) {
    throw new TypeError(`task(): the first argument must be the module's URL; pass import.meta.url (got ${String(moduleUrl)})`)
  }
  Object.defineProperty(fn, MODULE, { value: moduleUrl, enumerable: false })
  if (options.checkpoint) Object.defineProperty(fn, CHECKPOINT, { value: options.checkpoint, enumerable: false })
  return fn as Task<A, R>
}

/** The checkpoint function a task was given, if any. */
export function checkpointOf(fn: Function): ((...args: unknown[]) => unknown[] | Promise<unknown[]>) | undefined {
  return (fn as unknown as Record<symbol, (...args: unknown[]) => unknown[]>)[CHECKPOINT]
}

/**
 * An explicit reference, for a function not wrapped with task(): typed from the module's type, e.g.
 *   taskRef<typeof import('./tasks.js').train>(new URL('./tasks.js', import.meta.url).href, 'train')
 */
export function taskRef<F extends (...args: never[]) => unknown>(module: string, exportName: string): TypedTaskRef<Parameters<F>, ReturnType<F>> {
  return { module, exportName }
}

const resolved = new WeakMap<object, TaskRef>()

/** The reference of a task resolved before, without waiting (undefined: resolveTask it). */
export function resolvedTask(t: TaskLike<unknown[], unknown>): TaskRef | undefined {
  return typeof t === 'function' || (typeof t === 'object' && t !== null) ? resolved.get(t) : undefined
}

/** Finds the export name of a task by identity in its module, and checks an explicit reference. */
export async function resolveTask(t: TaskLike<unknown[], unknown>): Promise<TaskRef> {
  const cached = resolved.get(t)
  if (cached) return cached
  let ref: TaskRef
  if (typeof t === 'function') {
    const module = (t as Task<unknown[], unknown>)[MODULE]
    if (!module) {
      throw new TypeError(
        `the function ${t.name || '(anonymous)'} is not a task: export it wrapped as ` +
          `\`export const ${t.name || 'name'} = task(import.meta.url, ...)\`, or pass taskRef(moduleUrl, exportName)`,
      )
    }
    // checked before importing: importing the entry script from itself waits on its own top-level await
    const entry = entryScriptOf(module)
    if (entry) throw entryScriptError(entry, t.name)
    const chain = entryImportChain(module)
    if (chain) throw entryImportError(chain, t.name)
    const mod = await importModule(module)
    const exportName = Object.keys(mod).find((k) => mod[k] === t)
    if (!exportName) {
      throw new TypeError(
        `task ${t.name || '(anonymous)'} is not exported from ${module}: ` +
          'a worker finds a task by its export, so export it from the module whose import.meta.url was given to task()',
      )
    }
    ref = checkpointOf(t) ? { module, exportName, checkpoint: true } : { module, exportName }
  } else {
    if (typeof t?.module !== 'string' || typeof t?.exportName !== 'string') {
      throw new TypeError('expected a task (task(import.meta.url, fn)) or a { module, exportName } reference')
    }
    ref = { module: t.module, exportName: t.exportName }
    const chain = entryImportChain(ref.module)
    if (chain) throw entryImportError(chain, ref.exportName)
    if (checkpointOf(await loadTask(ref))) ref.checkpoint = true
  }
  resolved.set(t, ref)
  return ref
}

let tsLoader: Promise<unknown> | undefined
let tsHooks = false

const TS_FILE = /\.[mc]?tsx?$/

/**
 * Whether TypeScript hooks are active in this thread. Worker threads inherit the execArgv of
 * `tsx main.ts` but (on Node 20) not its hooks, so ask the resolver: tsx maps `x.js` to `x.ts` when
 * only `x.ts` exists, Node does not. Inconclusive (the .js twin exists) counts as inactive: registering
 * tsx a second time is harmless, a failed import is not (node caches it).
 */
function tsHooksActive(module: string): boolean {
  const twin = module.replace(/\.([mc]?)tsx?$/, '.$1js')
  try {
    if (fs.existsSync(fileURLToPath(twin))) return false
    return import.meta.resolve(twin) !== twin
  } catch {
    return false
  }
}

/** Imports a task module; a TypeScript one gets the tsx loader first when this thread has none. */
export async function importModule(module: string): Promise<Record<string, unknown>> {
  const entry = entryScriptOf(module)
  if (entry) throw entryScriptError(entry)
  if (TS_FILE.test(module) && !tsHooks) {
    if (tsLoader || !tsHooksActive(module)) {
      // both hooks: a .ts file outside a "type": "module" package is loaded as CommonJS
      tsLoader ??= Promise.all([import('tsx/esm/api').then((m) => m.register()), import('tsx/cjs/api').then((m) => m.register())])
      await tsLoader
    }
    tsHooks = true
  }
  return (await import(module)) as Record<string, unknown>
}

/** How many imports of task modules a worker (a thread or process that only runs jobs) has under way. */
let loadingForJobs = 0

/**
 * Runs `load` (a worker's import of the task modules of a submission), during which no executor may
 * be made: a module imported to find a task that makes executors when imported (the script being
 * run, imported by the task's module) would run again in every worker.
 */
export async function loadingTasksForJobs<T>(load: () => Promise<T>): Promise<T> {
  loadingForJobs++
  try {
    return await load()
  } finally {
    loadingForJobs--
  }
}

/** Whether a worker is importing task modules (see loadingTasksForJobs). */
export function isLoadingTasksForJobs(): boolean {
  return loadingForJobs > 0
}

/** The function a reference names, with a clear error when it is not there. */
export async function loadTask(ref: TaskRef): Promise<(...args: unknown[]) => unknown> {
  // a worker must never import the submitter's script (it would run it again)
  const entry = entryScriptOf(ref.module)
  if (entry) throw entryScriptError(entry, ref.exportName)
  let mod: Record<string, unknown>
  try {
    mod = await importModule(ref.module)
  } catch (e) {
    throw new Error(`cannot import task module ${ref.module}: ${(e as Error).message}`, { cause: e })
  }
  const fn = mod[ref.exportName]
  if (typeof fn !== 'function') {
    throw new TypeError(`${ref.module} has no exported function "${ref.exportName}"` + ` (exports: ${Object.keys(mod).join(', ') || 'none'})`)
  }
  return fn as (...args: unknown[]) => unknown
}
