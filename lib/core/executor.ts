// What every executor shares: typed submit/mapArray/submitArray/batch, parameter checks, and the
// preparation of a submission (tasks resolved, arguments checked and encoded) before a backend
// writes it and runs it.
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import v8 from 'node:v8'
import { getBackend } from './backends.js'
import { calledFromEntryScript } from './entry-script.js'
import { checkParameterNames, ParameterError, SubmissionTooLargeError } from './errors.js'
import { encodeRecord, FORMAT_VERSION, type BackendName, type SubmissionRecord, type WorkerParameters } from './format.js'
import type { Job } from './job.js'
import { currentOwner } from './owner.js'
import { allSpecs, checkRules, checkValue, CORE_SPECS, type ParameterSchema } from './params.js'
import { snapshotted } from './snapshot.js'
import { isLoadingTasksForJobs, resolvedTask, resolveTask, type TaskLike, type TaskRef } from './task.js'
import { encodeArgs } from './values.js'

/** A submission not sent yet: see `delayed()` and `submitArray()`. */
export interface Delayed<R> {
  readonly fn: TaskLike<unknown[], R>
  readonly args: unknown[]
}

/** Pairs a task with its arguments, type-checked, for submitArray(). */
export function delayed<A extends unknown[], R>(fn: TaskLike<A, R>, ...args: A): Delayed<Awaited<R>> {
  return { fn: fn as unknown as TaskLike<unknown[], Awaited<R>>, args }
}

/** Parameters every executor takes, whatever its backend (checked and kept by the core). */
export interface CoreParameters {
  /** a task's stderr goes to its _log.out file too (no _log.err) */
  stderrToStdout?: boolean
  /**
   * refuse a submission whose encoded size (arguments of every job) is over this many GB, before
   * anything is written (submitit's max_pickle_size_gb); default 1, Infinity for no limit
   */
  maxSubmissionSizeGb?: number
}

/** What updateParameters takes: null or undefined unsets a parameter (back to its default). */
export type ParameterUpdate<P> = { [K in keyof P]?: P[K] | null }

const DEFAULT_MAX_SUBMISSION_GB = 1 // submitit's max_pickle_size_gb

/** Parameters every backend understands. */
export interface CommonParameters extends CoreParameters {
  /** stop a job after this many minutes (a local thread is terminated; Slurm's --time) */
  timeoutMin?: number
  /** tasks run for each job on each node; each gets its own rank */
  tasksPerNode?: number
  nodes?: number
}

/** A submission ready for a backend: everything but the array id. */
export type PreparedArray = Omit<SubmissionRecord, 'arrayId' | 'isArray' | 'backend' | 'folder'>

/** The arguments of mapArray: one iterable per parameter of the task. */
export type Iterables<A extends unknown[]> = { [K in keyof A]: Iterable<A[K]> }

/**
 * A job's task and its arguments as they were when submit (or mapArray...) was called: checked and
 * encoded for v8, and no longer the caller's objects (see takeArgs).
 */
interface TakenItem {
  fn: TaskLike<unknown[], unknown>
  args: unknown[]
  marked: boolean
  /** why the arguments were refused (said once the task's name is known) */
  refused?: unknown
}

/** An open batch(): the items submitted inside it, and who waits for which of their jobs. */
interface Batch {
  items: TakenItem[]
  waiters: { from: number; to: number; resolve: (jobs: Job<unknown>[]) => void; reject: (e: unknown) => void }[]
  open: boolean
  allowImplicitSubmissions: boolean
  /** a submission awaited inside the batch (which would wait for ever): batch() rejects with it */
  misuse?: Error
  /** a call inside the batch refused before it could join it (mapArray's iterables...): batch() rejects with it */
  refused?: { error: unknown }
  /** implicit submissions made so far (allowImplicitSubmissions) */
  submitting?: Promise<void>
}

export interface BatchOptions {
  /**
   * Awaiting a job inside the batch submits what was gathered so far as one array (submitit's
   * allow_implicit_submissions); by default it is refused with an error.
   */
  allowImplicitSubmissions?: boolean
}

/**
 * What submit/mapArray/submitArray return inside batch(): their jobs exist once the batch is
 * submitted, so awaiting them inside it would wait for ever. `await` (a `then` with both
 * callbacks, as await and Promise.all call it) before that fails at once — or, with
 * allowImplicitSubmissions, submits what the batch holds so far. `.catch(h)` and `.then(f)` are
 * fine; the promises they make keep the same guard.
 */
class Batched<T> extends Promise<T> {
  batch?: Batch
  flush?: () => Promise<void>

  // biome-ignore lint/suspicious/noThenProperty: this class is a Promise; its then guards the batch
  override then<A = T, B = never>(
    onFulfilled?: ((v: T) => A | PromiseLike<A>) | null,
    onRejected?: ((e: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    const { batch, flush } = this
    if (batch?.open && typeof onFulfilled === 'function' && typeof onRejected === 'function') {
      if (batch.allowImplicitSubmissions) return flush!().then(() => super.then(onFulfilled, onRejected))
      const e = new Error(
        'a job submitted inside batch() exists only once the batch is submitted, when its callback ' +
          'returns: do not await submit() (or mapArray) inside it; use the jobs batch() resolves to, or ' +
          'batch(fn, { allowImplicitSubmissions: true }) to submit what was gathered so far',
      )
      batch.misuse ??= e
      return Promise.reject(e).then(onFulfilled, onRejected)
    }
    const next = super.then(onFulfilled, onRejected) as Batched<A | B>
    next.batch = batch
    next.flush = flush
    return next
  }
}

export abstract class Executor<P extends CommonParameters> {
  /** the folder template, made absolute (%j, %A, %a, %t still in it) */
  readonly folder: string
  protected params: P
  /** what an unset parameter goes back to */
  private readonly defaults: P
  private maxSubmissionGb = DEFAULT_MAX_SUBMISSION_GB
  /** the batch() whose callback is running, in this async context */
  private readonly batches = new AsyncLocalStorage<Batch>()

  protected constructor(
    folder: string,
    defaults: P,
    /** the backend's name, as registered (see lib/core/backends.ts) */
    readonly backend: BackendName | (string & {}),
  ) {
    if (isLoadingTasksForJobs() && calledFromEntryScript()) {
      throw new Error(
        "the script being run is running again, in a worker that imports a task's module to run a job: the task's module " +
          "imports the script (directly or not), so every worker would run it and submit jobs of its own. Move what the task's " +
          'module takes from the script (constants, helpers) to a module of their own.',
      )
    }
    if (typeof folder !== 'string' || folder === '') throw new ParameterError("an executor needs a folder for its jobs' files")
    this.folder = path.resolve(folder)
    this.params = { ...defaults }
    this.defaults = { ...defaults }
  }

  /**
   * The backend's parameters as data (lib/core/params.ts): names, kinds, rules between them, generic
   * mapping. Default: the schema of the backend registered under this executor's backend name.
   */
  protected readonly parameterSchema?: ParameterSchema

  /** The names this executor accepts on top of its schema's (a backend may list them all). */
  protected abstract readonly parameterNames: readonly string[]

  /** The schema updateParameters checks with: the executor's own, else its registered backend's. */
  private schema(): ParameterSchema {
    return this.parameterSchema ?? getBackend(this.backend)?.parameters ?? { specs: {} }
  }

  /**
   * Checks one set value, throwing a ParameterError that names the parameter: against the schema;
   * backends override it for what depends on their state (maxWorkers once the pool runs).
   */
  protected checkParameter(name: string, value: unknown): void {
    const schema = this.schema()
    const spec = allSpecs(schema)[name]
    if (spec) checkValue(spec, name, value, schema.label)
    else if (!Number.isInteger(value) || (value as number) < 1) throw new ParameterError(`${name} must be a positive integer, got ${String(value)}`)
  }

  /** Hands a prepared array to the backend: one job (isArray false) or one per element. */
  protected abstract submitPrepared(prepared: PreparedArray, isArray: boolean): Promise<Job<unknown>[]>

  /** The current parameters (a copy). */
  get parameters(): Readonly<P> {
    return { ...this.params }
  }

  /** The largest submission accepted, in GB (see CoreParameters.maxSubmissionSizeGb). */
  get maxSubmissionSizeGb(): number {
    return this.maxSubmissionGb
  }

  /**
   * Changes parameters for the next submissions; a misspelled name throws, listing the valid ones.
   * null or undefined unsets a parameter (as submitit's None), and 0 GPUs means none. Every value is
   * checked, then the rules between parameters on the merged set (memGb with memPerCpu), before any
   * is applied: a refused update changes nothing.
   */
  updateParameters(params: ParameterUpdate<P & CoreParameters>): this {
    if (this.openBatch()) {
      throw new Error(
        'updateParameters() cannot be called inside batch(): the batch is submitted as one array, ' +
          'with one set of parameters; change them before batch(), or make two batches',
      )
    }
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      throw new ParameterError(
        `updateParameters takes an object of parameters, got ${params === null ? 'null' : Array.isArray(params) ? 'an array' : typeof params}`,
      )
    }
    const schema = this.schema()
    const specs = allSpecs(schema)
    checkParameterNames(params, [...Object.keys(specs), ...this.parameterNames], this.backend)
    const next = { ...this.params } as unknown as Record<string, unknown>
    const defaults = this.defaults as unknown as Record<string, unknown>
    let maxGb = this.maxSubmissionGb
    for (const [name, value] of Object.entries(params)) {
      const refused = schema.refuses?.[name]
      if (refused !== undefined && value != null) throw new ParameterError(refused)
      if (name === 'maxSubmissionSizeGb') {
        // kept apart from the backend's parameters (Slurm turns those into sbatch flags)
        if (value != null) checkValue(CORE_SPECS.maxSubmissionSizeGb, name, value)
        maxGb = (value as number | null | undefined) ?? DEFAULT_MAX_SUBMISSION_GB
      } else if (value === null || value === undefined || (value === 0 && specs[name]?.zeroIsUnset)) {
        if (defaults[name] === undefined) delete next[name]
        else next[name] = defaults[name]
      } else {
        this.checkParameter(name, value)
        next[name] = value
      }
    }
    checkRules(schema, next)
    this.params = next as P
    this.maxSubmissionGb = maxGb
    return this
  }

  /** Submits one job running `fn(...args)`. */
  submit<A extends unknown[], R>(fn: TaskLike<A, R>, ...args: A): Promise<Job<Awaited<R>>> {
    const item = delayed(fn, ...args)
    const batch = this.openBatch()
    if (batch) return this.join(batch, [item], (jobs) => jobs[0] as Job<Awaited<R>>)
    return this.submitItems([item], false).then((jobs) => jobs[0] as Job<Awaited<R>>)
  }

  /** One job per element, like Array.map over the zipped iterables; submitted as one array. */
  mapArray<A extends unknown[], R>(fn: TaskLike<A, R>, ...iterables: Iterables<A>): Promise<Job<Awaited<R>>[]> {
    let items: Delayed<unknown>[]
    try {
      const columns = iterables.map((it, j) => {
        // Array.from(5) is []: a number or an object would silently make no job
        if (typeof (it as Iterable<unknown>)?.[Symbol.iterator] !== 'function') {
          throw new ParameterError(
            `mapArray: argument ${j + 2} is not iterable (got ${it === null ? 'null' : typeof it}); pass one array (or iterable) per parameter of the task`,
          )
        }
        return Array.from(it as Iterable<unknown>)
      })
      const n = columns.length === 0 ? 0 : Math.min(...columns.map((c) => c.length))
      if (columns.some((c) => c.length !== n)) {
        throw new ParameterError(`mapArray: the iterables have different lengths (${columns.map((c) => c.length).join(', ')})`)
      }
      items = new Array(n)
      for (let i = 0; i < n; i++) items[i] = { fn: fn as TaskLike<unknown[], unknown>, args: columns.map((c) => c[i]) }
    } catch (e) {
      return this.refuse(e)
    }
    return this.submitArray(items) as Promise<Job<Awaited<R>>[]>
  }

  /** Submits delayed(fn, ...args) items as one array (inside batch(), they join the batch's array). */
  submitArray<R>(items: readonly Delayed<R>[]): Promise<Job<R>[]> {
    if (!Array.isArray(items))
      return this.refuse(new ParameterError(`submitArray takes an array of delayed(task, ...args), got ${items === null ? 'null' : typeof items}`))
    const batch = this.openBatch()
    if (batch) return this.join(batch, items, (jobs) => jobs as Job<R>[])
    if (items.length === 0) {
      // as submitit's "Received an empty job array": often an iterable consumed earlier, or a filter that kept nothing
      process.emitWarning('mapArray/submitArray got no elements: no job was submitted', { code: 'SUBMITIT_EMPTY_ARRAY' })
      return Promise.resolve([])
    }
    return this.submitItems(items, true) as Promise<Job<R>[]>
  }

  /**
   * Whether submitPrepared encodes the submission before it first waits. The arguments are then
   * taken as they are at the call, uncopied; otherwise (and inside batch(), and while a task's
   * module is being looked up) they are copied at the call (see takeArgs).
   */
  protected readonly encodesAtOnce: boolean = false

  private submitItems(items: readonly Delayed<unknown>[], isArray: boolean): Promise<Job<unknown>[]> {
    const refs = knownTasks(items)
    // the common case goes through to the backend's encoding without waiting: nothing to copy
    const now = this.encodesAtOnce && refs.size > 0 && [...refs.values()].every((r) => r !== undefined)
    try {
      return this.submitTaken(this.takeArgs(items, !now, refs), isArray, refs, now)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /**
   * The arguments of `items` as they are now, checked and encoded, before anything waits: a caller
   * may change its objects as soon as submit() returns ('cfg.lr = lr; ex.submit(train, cfg)' in a
   * loop, without await). With `copy` they are also copied, all at once (an object that several of
   * them hold stays one object): the backend encodes them later. An argument refused is kept with
   * its error, said once the task's name is known.
   */
  private takeArgs(
    items: readonly Delayed<unknown>[],
    copy: boolean,
    refs: Map<TaskLike<unknown[], unknown>, TaskRef | undefined>,
    /** a refused argument is said when the items are submitted (a batch's: named by their place in it) */
    later = false,
  ): TakenItem[] {
    const taken: TakenItem[] = new Array(items.length)
    let objects = false
    for (let i = 0; i < items.length; i++) {
      const { fn, args } = items[i]
      try {
        if (!Array.isArray(args)) throw new ParameterError(`the arguments of element ${i} are not an array`)
        const enc = encodeArgs(args, (j) => argumentName(refs.get(fn), i, j, items.length))
        taken[i] = { fn, args: enc.value as unknown[], marked: enc.marked }
        if (copy && !objects) objects = hasObjects(taken[i].args)
      } catch (refused) {
        if (refs.get(fn) && !later) throw refused // named already
        // the submission fails: the others need not be taken
        return items.map((item, k) => ({ fn: item.fn, args: item.args, marked: false, refused: k === i ? refused : undefined }))
      }
    }
    if (objects) {
      let copies: unknown[][]
      try {
        copies = v8.deserialize(v8.serialize(taken.map((t) => t.args))) as unknown[][]
      } catch {
        return taken // v8 refuses one (a Proxy): the submission's encoding names it
      }
      for (let i = 0; i < taken.length; i++) taken[i].args = copies[i]
    }
    return taken
  }

  /** Resolves the tasks (when not known yet) and hands the taken items to the backend. */
  private submitTaken(taken: TakenItem[], isArray: boolean, refs = knownTasks(taken), now = false): Promise<Job<unknown>[]> {
    // what the call saw: the parameters, the owner, the nonce
    const base = this.preparedBase()
    if (now) return this.submitPrepared(assemble(base, taken, refs), isArray)
    return (async () => {
      for (const [fn, ref] of refs) if (!ref) refs.set(fn, await resolveTask(fn))
      for (let i = 0; i < taken.length; i++) {
        const { fn, args, refused } = taken[i]
        if (refused === undefined) continue
        // the same check again, now that the error can name the task
        if (Array.isArray(args)) encodeArgs(args, (j) => argumentName(refs.get(fn), i, j, taken.length))
        throw refused
      }
      return await this.submitPrepared(assemble(base, taken, refs), isArray)
    })()
  }

  /** The parts of a prepared submission that come from the executor, as they are at the call. */
  private preparedBase(): Omit<PreparedArray, 'fns' | 'fnIndex' | 'args' | 'marked'> {
    return {
      format: 'submitit-ts/submission',
      version: FORMAT_VERSION,
      node: process.version,
      nonce: randomUUID(),
      params: this.workerParameters(),
      owner: currentOwner(),
    }
  }

  /**
   * Every submit (or mapArray, submitArray) called inside `fn` adds to one array, submitted when
   * `fn` returns; resolves to its jobs, in submission order. Their jobs exist only then: awaiting
   * them inside `fn` is refused (see BatchOptions). An error inside `fn` submits nothing.
   */
  async batch(fn: () => void | Promise<void>, options: BatchOptions = {}): Promise<Job<unknown>[]> {
    if (this.openBatch()) throw new Error('batch() calls cannot be nested')
    const batch: Batch = { items: [], waiters: [], open: true, allowImplicitSubmissions: options.allowImplicitSubmissions ?? false }
    const fail = (e: unknown): never => {
      batch.open = false
      for (const w of batch.waiters) w.reject(e)
      throw e
    }
    try {
      await this.batches.run(batch, fn)
      await batch.submitting
    } catch (e) {
      fail(e)
    }
    if (batch.refused) fail(batch.refused.error)
    if (batch.misuse) fail(batch.misuse)
    batch.open = false
    if (batch.items.length === 0 && !batch.submitting) {
      process.emitWarning('batch() submitted no job: no submit() was called inside its callback', { code: 'SUBMITIT_EMPTY_BATCH' })
    }
    return this.submitBatch(batch).catch(fail)
  }

  /** Submits what the batch gathered since its last submission as one array, and hands out the jobs. */
  private async submitBatch(batch: Batch): Promise<Job<unknown>[]> {
    const { items, waiters } = batch
    batch.items = []
    batch.waiters = []
    if (items.length === 0) return []
    let jobs: Job<unknown>[]
    try {
      jobs = await this.submitTaken(items, true)
    } catch (e) {
      for (const w of waiters) w.reject(e)
      throw e
    }
    for (const w of waiters) w.resolve(jobs.slice(w.from, w.to))
    return jobs
  }

  /** A call refused before it could join a batch: inside one, the batch fails with it (nothing goes separately). */
  private refuse<T>(e: unknown): Promise<T> {
    const batch = this.openBatch()
    if (!batch) return Promise.reject(e)
    batch.refused ??= { error: e }
    const p = Promise.reject(e)
    p.catch(() => {}) // batch() rejects with it: an unawaited call must not crash the process
    return p
  }

  private openBatch(): Batch | undefined {
    const batch = this.batches.getStore()
    return batch?.open ? batch : undefined
  }

  /** Adds items to the open batch; the promise resolves once the batch is submitted. */
  private join<T>(batch: Batch, items: readonly Delayed<unknown>[], pick: (jobs: Job<unknown>[]) => T): Promise<T> {
    let resolve!: (v: T) => void
    let reject!: (e: unknown) => void
    const p = new Batched<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    p.batch = batch
    p.flush = () => (batch.submitting = (batch.submitting ?? Promise.resolve()).then(() => this.submitBatch(batch).then(() => {})))
    const from = batch.items.length
    // as they are now: the callback may change its objects before the batch is submitted
    for (const item of this.takeArgs(items, true, knownTasks(items), true)) batch.items.push(item) // a refused one: batch() rejects
    batch.waiters.push({ from, to: batch.items.length, resolve: (jobs) => resolve(pick(jobs)), reject })
    // batch() itself throws; a promise left unawaited must not crash the process
    Promise.prototype.then.call(p, undefined, () => {})
    return p
  }

  /** Stops background work (pools, watchers). Jobs already submitted keep their files. */
  abstract shutdown(): Promise<void>

  /** Parameters the worker needs, from this executor's. */
  protected workerParameters(): WorkerParameters {
    // no field left undefined: a record of JSON-exact fields is written as JSON (lib/core/json-record.ts)
    const p: WorkerParameters = { tasksPerNode: this.params.tasksPerNode ?? 1, nodes: this.params.nodes ?? 1 }
    if (this.params.timeoutMin !== undefined) p.timeoutMin = this.params.timeoutMin
    if (this.params.stderrToStdout) p.stderrToStdout = true
    return p
  }

  /**
   * Encodes a submission, refusing one over maxSubmissionSizeGb (SubmissionTooLargeError) before
   * anything is written: backends call it instead of encodeRecord.
   */
  protected encodeSubmission(record: SubmissionRecord): Buffer {
    const bytes = encodeRecord(record)
    this.checkSubmissionSize(bytes.byteLength, record.args.length)
    return bytes
  }

  /** Throws a SubmissionTooLargeError when `bytes` (an encoded submission of `jobs` jobs) is over the limit. */
  protected checkSubmissionSize(bytes: number, jobs: number): void {
    if (bytes > this.maxSubmissionGb * 1024 ** 3) throw new SubmissionTooLargeError(bytes, this.maxSubmissionGb, jobs)
  }

  /** Resolves the tasks and checks and encodes every argument: bad input fails here, not on a node. */
  protected async prepare(items: readonly Delayed<unknown>[]): Promise<PreparedArray> {
    const refs = knownTasks(items)
    for (const [fn, ref] of refs) if (!ref) refs.set(fn, await resolveTask(fn))
    const taken = this.takeArgs(items, false, refs)
    return assemble(this.preparedBase(), taken, refs)
  }
}

/** The tasks of `items`, each with its reference when it was resolved before (else undefined). */
function knownTasks(items: readonly { fn: TaskLike<unknown[], unknown> }[]): Map<TaskLike<unknown[], unknown>, TaskRef | undefined> {
  const refs = new Map<TaskLike<unknown[], unknown>, TaskRef | undefined>()
  for (const { fn } of items) if (!refs.has(fn)) refs.set(fn, resolvedTask(fn))
  return refs
}

function argumentName(ref: TaskRef | undefined, i: number, j: number, n: number): string {
  return `argument ${j + 1} of ${ref?.exportName ?? 'the task'}${n > 1 ? ` (element ${i})` : ''}`
}

function hasObjects(args: unknown[]): boolean {
  for (const a of args) if (typeof a === 'object' && a !== null) return true
  return false
}

/** A prepared submission from its taken items, their tasks resolved. */
function assemble(
  base: Omit<PreparedArray, 'fns' | 'fnIndex' | 'args' | 'marked'>,
  taken: TakenItem[],
  refs: Map<TaskLike<unknown[], unknown>, TaskRef | undefined>,
): PreparedArray {
  const fns: TaskRef[] = []
  const fnIndexOf = new Map<TaskLike<unknown[], unknown>, number>()
  const fnIndex: number[] = new Array(taken.length)
  const args: unknown[][] = new Array(taken.length)
  let marked = false
  for (let i = 0; i < taken.length; i++) {
    const { fn } = taken[i]
    let k = fnIndexOf.get(fn)
    if (k === undefined) {
      k = fns.push(refs.get(fn)!) - 1
      fnIndexOf.set(fn, k)
    }
    fnIndex[i] = k
    args[i] = taken[i].args
    marked ||= taken[i].marked
  }
  return snapshotted({ ...base, fns, fnIndex, args, marked }) // inside withCodeSnapshot(): tasks and classes from the snapshot
}
