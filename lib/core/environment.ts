// What a running task can know about its job, like submitit.JobEnvironment. Tasks of a thread pool
// share one process, so the current job is tracked per async context, not in process.env.
import { AsyncLocalStorage } from 'node:async_hooks'
import os from 'node:os'
import type { BackendName } from './format.js'
import { JobPaths } from './paths.js'

export interface JobEnvironmentInfo {
  backend: BackendName
  /** A for a single job, A_a for an array element */
  jobId: string
  arrayJobId: string
  arrayTaskId: number | null
  /** tasks in the job (nodes × tasksPerNode) */
  numTasks: number
  numNodes: number
  /** index of this node among the job's nodes */
  node: number
  globalRank: number
  localRank: number
  /** the executor's folder template (%j, %A, %a, %t unresolved) */
  folderTemplate: string
  /** how many times the job was requeued before this run (Slurm's SLURM_RESTART_COUNT) */
  restarts: number
  /** the nonce of the job's submission (its checkpoints carry it) */
  nonce?: string
}

const current = new AsyncLocalStorage<JobEnvironment>()
const HOSTNAME = os.hostname() // a system call: once, not per task

/**
 * An in-process runner (the DebugExecutor) sees what a task threw before it is encoded, to hand
 * back the very object (its class, its methods) as submitit's debug executor does.
 */
const thrownObservers = new AsyncLocalStorage<(error: unknown) => void>()

/** Runs `fn`; every task run inside it (in this async flow) that throws reports its error to `seen`. */
export function observeThrown<T>(seen: (error: unknown) => void, fn: () => T): T {
  return thrownObservers.run(seen, fn)
}

/**
 * Expands Slurm's compact node list (SLURM_JOB_NODELIST): `node[1-3,7],gpu05` → node1, node2, node3,
 * node7, gpu05; zero padding is kept (`n[01-03]` → n01, n02, n03); several brackets in one name
 * multiply (`r[1-2]n[1-2]` → r1n1, r1n2, r2n1, r2n2).
 */
export function expandNodeList(list: string): string[] {
  const hosts: string[] = []
  let names = ['']
  for (let i = 0; i < list.length; i++) {
    const c = list[i]
    if (c === ',') {
      hosts.push(...names)
      names = ['']
    } else if (c === '[') {
      const end = list.indexOf(']', i)
      if (end < 0) throw new Error(`unrecognized SLURM_JOB_NODELIST ${JSON.stringify(list)}: a "[" is never closed`)
      const suffixes = expandRanges(list.slice(i + 1, end), list)
      names = names.flatMap((n) => suffixes.map((x) => n + x))
      i = end
    } else {
      names = names.map((n) => n + c)
    }
  }
  hosts.push(...names)
  return hosts.filter((h) => h !== '')
}

/** `1-3,07,10-11` → 1 2 3 07 10 11 (a range keeps the width of its start: 01-03 → 01 02 03). */
function expandRanges(spec: string, list: string): string[] {
  const out: string[] = []
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (!m) throw new Error(`unrecognized SLURM_JOB_NODELIST ${JSON.stringify(list)}: bad range ${JSON.stringify(part)}`)
    if (m[2] === undefined) {
      out.push(m[1])
      continue
    }
    const width = m[1].length
    for (let n = Number(m[1]); n <= Number(m[2]); n++) out.push(String(n).padStart(width, '0'))
  }
  return out
}

/** How a job's runner tells a task that its job was warned (see JobEnvironment.warned). @internal */
export interface WarningSource {
  /** is the job warned now? (cheap: read by a busy task's loop) */
  warned(): boolean
  /** start looking for the warning, calling notifyWarned() on the environment when it comes */
  watch(): void
  /** the task saved its checkpoint after the warning (saveCheckpoint): the job may be requeued now */
  checkpointed(): void
}

export class JobEnvironment implements JobEnvironmentInfo {
  readonly backend!: BackendName
  readonly jobId!: string
  readonly arrayJobId!: string
  readonly arrayTaskId!: number | null
  readonly numTasks!: number
  readonly numNodes!: number
  readonly node!: number
  readonly globalRank!: number
  readonly localRank!: number
  readonly folderTemplate!: string
  readonly restarts!: number
  readonly nonce?: string
  readonly hostname = HOSTNAME
  readonly #warning?: WarningSource
  #controller?: AbortController

  constructor(info: JobEnvironmentInfo)
  /** The runner's, with how it tells the task that its job was warned. @internal */
  constructor(info: JobEnvironmentInfo, warning?: WarningSource)
  constructor(info: JobEnvironmentInfo, warning?: WarningSource) {
    Object.assign(this, info)
    this.#warning = warning
  }

  /**
   * True once the job is warned that it will end: Slurm's SIGUSR2 (a time limit near, a preemption)
   * on rank 0, or a local job past its timeoutMin. A busy task may poll it between steps, save what it
   * needs (saveCheckpoint) and return or throw; the task's `checkpoint` function, if it has one, is
   * called when the task yields. Always false on the DebugExecutor (no time limit there).
   */
  get warned(): boolean {
    return this.#warning?.warned() ?? false
  }

  /** An AbortSignal aborted when the job is warned (see warned), for tasks that await. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.warned) this.notifyWarned()
      else this.#warning?.watch()
    }
    return this.#controller.signal
  }

  /** Called by saveCheckpoint() once the job is warned. @internal */
  notifyCheckpointed(): void {
    this.#warning?.checkpointed()
  }

  /** Called by the runner when the warning comes. @internal */
  notifyWarned(): void {
    this.#controller?.abort(new Error(`job ${this.jobId} was warned that it will end (time limit or preemption)`))
  }

  /** The backend running the job ('slurm', 'local', 'debug' or a plugin's), as submitit's `JobEnvironment().cluster`. */
  get cluster(): string {
    return this.backend
  }

  /**
   * The hosts of the job, for multi-node set-ups (the first is a natural rendezvous): on Slurm, the
   * expanded SLURM_JOB_NODELIST; elsewhere, this host alone.
   */
  get hostnames(): string[] {
    const list = this.backend === 'slurm' ? process.env.SLURM_JOB_NODELIST : undefined
    return list ? expandNodeList(list) : [this.hostname]
  }

  /** The environment of the job this code runs in; throws outside a job. */
  static current(): JobEnvironment {
    const env = current.getStore()
    if (!env) throw new Error('JobEnvironment.current() was called outside a submitit-ts job')
    return env
  }

  /** Like current(), but undefined outside a job. */
  static maybe(): JobEnvironment | undefined {
    return current.getStore()
  }

  get paths(): JobPaths {
    return new JobPaths(this.folderTemplate, this.jobId)
  }

  /** Runs `fn` with this environment as the current one. */
  run<T>(fn: () => T): T {
    const seen = thrownObservers.getStore()
    return current.run(this, seen ? () => observed(fn, seen) : fn)
  }
}

/** Calls fn, reporting what it throws (or its promise rejects with) to `seen`. */
function observed<T>(fn: () => T, seen: (error: unknown) => void): T {
  let value: T
  try {
    value = fn()
  } catch (e) {
    seen(e)
    throw e
  }
  if (value instanceof Promise)
    return value.catch((e: unknown) => {
      seen(e)
      throw e
    }) as T
  return value
}
