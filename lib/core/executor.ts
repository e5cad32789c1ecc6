// What every executor shares: typed submit/mapArray/submitArray/batch, parameter checks, and the
// preparation of a submission (tasks resolved, arguments checked and encoded) before a backend
// writes it and runs it.
import { randomUUID } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { checkParameterNames, ParameterError } from './errors.js'
import { FORMAT_VERSION, type BackendName, type SubmissionRecord, type WorkerParameters } from './format.js'
import type { Job } from './job.js'
import { resolveTask, type TaskLike, type TaskRef } from './task.js'
import { encodeValue } from './values.js'

/** A submission not sent yet: see `delayed()` and `submitArray()`. */
export interface Delayed<R> {
  readonly fn: TaskLike<unknown[], R>
  readonly args: unknown[]
}

/** Pairs a task with its arguments, type-checked, for submitArray(). */
export function delayed<A extends unknown[], R>(fn: TaskLike<A, R>, ...args: A): Delayed<Awaited<R>> {
  return { fn: fn as unknown as TaskLike<unknown[], Awaited<R>>, args }
}

/** Parameters every backend understands. */
export interface CommonParameters {
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

type Pending = { item: Delayed<unknown>; resolve: (job: Job<unknown>) => void; reject: (e: unknown) => void }

export abstract class Executor<P extends CommonParameters> {
  /** the folder template, made absolute (%j, %A, %a, %t still in it) */
  readonly folder: string
  protected params: P
  private batching: Pending[] | null = null

  protected constructor(folder: string, defaults: P, readonly backend: BackendName) {
    if (typeof folder !== 'string' || folder === '') throw new ParameterError('an executor needs a folder for its jobs\' files')
    this.folder = path.resolve(folder)
    this.params = { ...defaults }
  }

  /** Every parameter name this executor accepts. */
  protected abstract readonly parameterNames: readonly string[]

  /** Checks one value, throwing a ParameterError that names the parameter. Backends add theirs. */
  protected checkParameter(name: string, value: unknown): void {
    if (name === 'timeoutMin') {
      if (!(typeof value === 'number' && value > 0)) throw new ParameterError(`timeoutMin must be a positive number of minutes, got ${String(value)}`)
    } else if (!Number.isInteger(value) || (value as number) < 1) {
      throw new ParameterError(`${name} must be a positive integer, got ${String(value)}`)
    }
  }

  /** Hands a prepared array to the backend: one job (isArray false) or one per element. */
  protected abstract submitPrepared(prepared: PreparedArray, isArray: boolean): Promise<Job<unknown>[]>

  /** The current parameters (a copy). */
  get parameters(): Readonly<P> {
    return { ...this.params }
  }

  /** Changes parameters for the next submissions; a misspelled name throws, listing the valid ones. */
  updateParameters(params: Partial<P>): this {
    checkParameterNames(params, this.parameterNames, this.backend)
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) this.checkParameter(name, value)
    }
    this.params = { ...this.params, ...params }
    return this
  }

  /** Submits one job running `fn(...args)`. */
  async submit<A extends unknown[], R>(fn: TaskLike<A, R>, ...args: A): Promise<Job<Awaited<R>>> {
    const item = delayed(fn, ...args)
    if (this.batching) {
      // inside batch(): the job exists once the batch is submitted as one array
      const pending = this.batching
      const job = new Promise<Job<Awaited<R>>>((resolve, reject) => pending.push({ item, resolve: resolve as (j: Job<unknown>) => void, reject }))
      job.catch(() => {}) // batch() itself throws; a submit promise left unawaited must not crash the process
      return job
    }
    const [job] = await this.submitPrepared(await this.prepare([item]), false)
    return job as Job<Awaited<R>>
  }

  /** One job per element, like Array.map over the zipped iterables; submitted as one array. */
  async mapArray<A extends unknown[], R>(fn: TaskLike<A, R>, ...iterables: Iterables<A>): Promise<Job<Awaited<R>>[]> {
    const columns = iterables.map((it) => Array.from(it as Iterable<unknown>))
    const n = columns.length === 0 ? 0 : Math.min(...columns.map((c) => c.length))
    if (columns.some((c) => c.length !== n)) {
      throw new ParameterError(`mapArray: the iterables have different lengths (${columns.map((c) => c.length).join(', ')})`)
    }
    const items: Delayed<unknown>[] = new Array(n)
    for (let i = 0; i < n; i++) items[i] = { fn: fn as TaskLike<unknown[], unknown>, args: columns.map((c) => c[i]) }
    return this.submitArray(items) as Promise<Job<Awaited<R>>[]>
  }

  /** Submits delayed(fn, ...args) items as one array. */
  async submitArray<R>(items: readonly Delayed<R>[]): Promise<Job<R>[]> {
    if (items.length === 0) return []
    return await this.submitPrepared(await this.prepare(items), true) as Job<R>[]
  }

  /**
   * Every `submit` called inside `fn` becomes one element of a single array, submitted when `fn`
   * returns (do not await those submits inside `fn`: their jobs exist only after it). Resolves to
   * the jobs, in submission order.
   */
  async batch(fn: () => void | Promise<void>): Promise<Job<unknown>[]> {
    if (this.batching) throw new Error('batch() calls cannot be nested')
    const pending: Pending[] = []
    this.batching = pending
    try {
      await fn()
    } finally {
      this.batching = null
    }
    if (pending.length === 0) return []
    try {
      const jobs = await this.submitArray(pending.map((p) => p.item))
      pending.forEach((p, i) => p.resolve(jobs[i]))
      return jobs
    } catch (e) {
      pending.forEach((p) => p.reject(e))
      throw e
    }
  }

  /** Stops background work (pools, watchers). Jobs already submitted keep their files. */
  abstract shutdown(): Promise<void>

  /** Parameters the worker needs, from this executor's. */
  protected workerParameters(): WorkerParameters {
    return { timeoutMin: this.params.timeoutMin, tasksPerNode: this.params.tasksPerNode ?? 1, nodes: this.params.nodes ?? 1 }
  }

  /** Resolves the tasks and checks and encodes every argument: bad input fails here, not on a node. */
  protected async prepare(items: readonly Delayed<unknown>[]): Promise<PreparedArray> {
    const fns: TaskRef[] = []
    const fnIndexOf = new Map<TaskLike<unknown[], unknown>, number>()
    const fnIndex: number[] = new Array(items.length)
    const args: unknown[][] = new Array(items.length)
    let marked = false
    for (let i = 0; i < items.length; i++) {
      const { fn, args: a } = items[i]
      let k = fnIndexOf.get(fn)
      if (k === undefined) {
        k = fns.push(await resolveTask(fn)) - 1
        fnIndexOf.set(fn, k)
      }
      fnIndex[i] = k
      if (!Array.isArray(a)) throw new ParameterError(`the arguments of element ${i} are not an array`)
      let copy: unknown[] | null = null
      for (let j = 0; j < a.length; j++) {
        const arg = a[j]
        if (typeof arg !== 'object' && typeof arg !== 'function' && typeof arg !== 'symbol') continue // sent as it is
        // the name of the place is only made for an error
        const where = () => `argument ${j + 1} of ${fns[k!].exportName}${items.length > 1 ? ` (element ${i})` : ''}`
        const enc = encodeValue(arg, where)
        marked ||= enc.marked
        if (enc.value !== arg) (copy ??= a.slice())[j] = enc.value
      }
      args[i] = copy ?? a
    }
    const prepared: PreparedArray = {
      format: 'submitit-ts/submission', version: FORMAT_VERSION, node: process.version, nonce: randomUUID(),
      params: this.workerParameters(),
      owner: { pid: process.pid, host: os.hostname(), at: Date.now() },
      fns, fnIndex, args, marked,
    }
    return prepared
  }
}
