// AutoExecutor: the same code on a laptop and on a cluster. It picks Slurm when sbatch is on the
// PATH, else the LocalExecutor, and takes one set of parameters for all: generic names work
// everywhere, cluster-specific ones carry a prefix (slurmPartition, localMaxWorkers...) and a
// prefixed value overrides the generic one. Parameters of another cluster are accepted and ignored,
// so a script written for Slurm runs unchanged on a laptop.
import fs from 'node:fs'
import path from 'node:path'
import { checkParameterNames } from '../core/errors.js'
import { type Delayed, type Executor, type Iterables } from '../core/executor.js'
import type { Job } from '../core/job.js'
import type { TaskLike } from '../core/task.js'
import { DebugExecutor } from '../debug/executor.js'
import { LocalExecutor, type LocalParameters } from '../local/executor.js'
import { SlurmExecutor } from '../slurm/executor.js'
import { SLURM_PARAMETER_NAMES, type SlurmParameters } from '../slurm/params.js'

export type Cluster = 'debug' | 'local' | 'slurm'

/** Parameters every cluster understands (some are ignored where they mean nothing, e.g. memGb locally). */
export interface GenericParameters {
  name?: string
  timeoutMin?: number
  memGb?: number
  nodes?: number
  cpusPerTask?: number
  gpusPerNode?: number
  tasksPerNode?: number
  stderrToStdout?: boolean
}

type Prefixed<P, Prefix extends string> = { [K in keyof P as `${Prefix}${Capitalize<K & string>}`]?: P[K] }

export type AutoParameters = GenericParameters
  & Prefixed<Omit<SlurmParameters, 'timeoutMin' | 'nodes' | 'tasksPerNode'>, 'slurm'>
  & Prefixed<Pick<LocalParameters, 'maxWorkers' | 'arrayParallelism'>, 'local'>

const GENERIC = ['name', 'timeoutMin', 'memGb', 'nodes', 'cpusPerTask', 'gpusPerNode', 'tasksPerNode', 'stderrToStdout'] as const
const LOCAL_OWN = ['maxWorkers', 'arrayParallelism'] as const
const SLURM_OWN = SLURM_PARAMETER_NAMES.filter((n) => n !== 'timeoutMin' && n !== 'nodes' && n !== 'tasksPerNode')
const capital = (s: string) => s[0].toUpperCase() + s.slice(1)
const VALID = [...GENERIC, ...SLURM_OWN.map((n) => `slurm${capital(n)}`), ...LOCAL_OWN.map((n) => `local${capital(n)}`)]

/** Is `command` an executable file on the PATH? */
function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** The cluster AutoExecutor picks: SUBMITIT_CLUSTER if set, else Slurm when sbatch is on the PATH. */
export function detectCluster(): Cluster {
  const forced = process.env.SUBMITIT_CLUSTER
  if (forced === 'debug' || forced === 'local' || forced === 'slurm') return forced
  return onPath('sbatch') ? 'slurm' : 'local'
}

export class AutoExecutor {
  readonly cluster: Cluster
  private readonly inner: Executor<object>
  private params: AutoParameters = {}

  constructor(options: { folder: string; cluster?: Cluster } & AutoParameters) {
    const { folder, cluster, ...params } = options
    this.cluster = cluster ?? detectCluster()
    this.inner = (this.cluster === 'slurm' ? new SlurmExecutor({ folder })
      : this.cluster === 'debug' ? new DebugExecutor({ folder })
        : new LocalExecutor({ folder })) as unknown as Executor<object>
    this.updateParameters(params)
  }

  get folder(): string {
    return this.inner.folder
  }

  /** The executor doing the work (SlurmExecutor, LocalExecutor or DebugExecutor). */
  get executor(): Executor<object> {
    return this.inner
  }

  /** Generic and prefixed parameters; a misspelled name throws, listing the valid ones. */
  updateParameters(params: AutoParameters): this {
    checkParameterNames(params, VALID, 'AutoExecutor')
    const merged = { ...this.params, ...params }
    this.inner.updateParameters(this.forCluster(merged))
    this.params = merged
    return this
  }

  /** The parameters the chosen cluster gets: generic ones, then its prefixed ones over them. */
  private forCluster(p: AutoParameters): Record<string, unknown> {
    // the DebugExecutor cannot stop a task running in this thread: a timeout means nothing there
    const out: Record<string, unknown> = { timeoutMin: this.cluster === 'debug' ? undefined : p.timeoutMin, nodes: p.nodes, tasksPerNode: p.tasksPerNode }
    const prefix = this.cluster === 'slurm' ? 'slurm' : this.cluster === 'local' ? 'local' : undefined
    if (this.cluster === 'slurm') {
      Object.assign(out, { jobName: p.name, memGb: p.memGb, cpusPerTask: p.cpusPerTask, gpusPerNode: p.gpusPerNode, stderrToStdout: p.stderrToStdout })
    }
    if (prefix) {
      for (const [k, v] of Object.entries(p)) {
        if (k.startsWith(prefix) && k.length > prefix.length) out[k[prefix.length].toLowerCase() + k.slice(prefix.length + 1)] = v
      }
    }
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k]
    return out
  }

  submit<A extends unknown[], R>(fn: TaskLike<A, R>, ...args: A): Promise<Job<Awaited<R>>> {
    return this.inner.submit(fn, ...args)
  }

  mapArray<A extends unknown[], R>(fn: TaskLike<A, R>, ...iterables: Iterables<A>): Promise<Job<Awaited<R>>[]> {
    return this.inner.mapArray(fn, ...iterables)
  }

  submitArray<R>(items: readonly Delayed<R>[]): Promise<Job<R>[]> {
    return this.inner.submitArray(items)
  }

  batch(fn: () => void | Promise<void>): Promise<Job<unknown>[]> {
    return this.inner.batch(fn)
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown()
  }
}
