// AutoExecutor: the same code on a laptop and on a cluster. It picks Slurm when sbatch is on the
// PATH, else the LocalExecutor, and takes one set of parameters for all: generic names work
// everywhere, and any parameter can be given for one cluster alone with its prefix (slurmPartition,
// slurmTimeoutMin, localMaxWorkers, debugTasksPerNode...), which wins over the generic one there.
// Each cluster declares which generic names it understands and under which name of its own
// (submitit's _equivalence_dict); the others are ignored there, so a script written for Slurm runs
// unchanged on a laptop. Names and generic values are checked whatever the cluster.
import fs from 'node:fs'
import path from 'node:path'
import { checkParameterNames, ParameterError } from '../core/errors.js'
import type { BatchOptions, CoreParameters, Delayed, Executor, Iterables, ParameterUpdate } from '../core/executor.js'
import type { Job } from '../core/job.js'
import type { TaskLike } from '../core/task.js'
import { DebugExecutor, type DebugParameters } from '../debug/executor.js'
import { LocalExecutor, type LocalParameters } from '../local/executor.js'
import { SlurmExecutor } from '../slurm/executor.js'
import { SLURM_PARAMETER_NAMES, type SlurmParameters } from '../slurm/params.js'

export const CLUSTERS = ['debug', 'local', 'slurm'] as const
export type Cluster = (typeof CLUSTERS)[number]

/** Parameters every cluster understands (some are ignored where they mean nothing, e.g. cpusPerTask locally). */
export interface GenericParameters extends CoreParameters {
  name?: string
  timeoutMin?: number
  memGb?: number
  nodes?: number
  cpusPerTask?: number
  /** 0: no GPU */
  gpusPerNode?: number
  tasksPerNode?: number
}

type Prefixed<P, Prefix extends string> = { [K in keyof P as `${Prefix}${Capitalize<K & string>}`]?: P[K] | null }
type Generic = keyof GenericParameters

export type AutoParameters = ParameterUpdate<GenericParameters> &
  Prefixed<SlurmParameters & Omit<GenericParameters, keyof SlurmParameters>, 'slurm'> &
  Prefixed<Pick<LocalParameters, 'maxWorkers' | 'arrayParallelism' | 'maxNumTimeout' | 'isolation'> & GenericParameters, 'local'> &
  Prefixed<DebugParameters & Omit<GenericParameters, 'timeoutMin'>, 'debug'>

const GENERIC: readonly Generic[] = [
  'name',
  'timeoutMin',
  'memGb',
  'nodes',
  'cpusPerTask',
  'gpusPerNode',
  'tasksPerNode',
  'stderrToStdout',
  'maxSubmissionSizeGb',
]

/** What each cluster makes of the generic names (its own name for each; absent: ignored there). */
const EQUIVALENCES: Record<Cluster, Partial<Record<Generic, string>>> = {
  slurm: {
    name: 'jobName',
    timeoutMin: 'timeoutMin',
    memGb: 'memGb',
    nodes: 'nodes',
    cpusPerTask: 'cpusPerTask',
    gpusPerNode: 'gpusPerNode',
    tasksPerNode: 'tasksPerNode',
    stderrToStdout: 'stderrToStdout',
    maxSubmissionSizeGb: 'maxSubmissionSizeGb',
  },
  // memGb: the heap limit of a job's process with isolation: 'process'
  local: {
    timeoutMin: 'timeoutMin',
    memGb: 'memGb',
    nodes: 'nodes',
    tasksPerNode: 'tasksPerNode',
    stderrToStdout: 'stderrToStdout',
    maxSubmissionSizeGb: 'maxSubmissionSizeGb',
  },
  // a task in this thread cannot be stopped: a timeout means nothing there (the DebugExecutor refuses it)
  debug: { nodes: 'nodes', tasksPerNode: 'tasksPerNode', stderrToStdout: 'stderrToStdout', maxSubmissionSizeGb: 'maxSubmissionSizeGb' },
}

/** The parameters of each cluster's executor that have no generic name. */
const OWN: Record<Cluster, readonly string[]> = {
  slurm: SLURM_PARAMETER_NAMES,
  local: ['maxWorkers', 'arrayParallelism', 'maxNumTimeout', 'isolation'],
  debug: [],
}

const capital = (s: string) => s[0].toUpperCase() + s.slice(1)
const uncapital = (s: string) => s[0].toLowerCase() + s.slice(1)

/**
 * Every name AutoExecutor takes: the generic ones, and every cluster's own and generic ones, prefixed
 * (but debugTimeoutMin: the DebugExecutor refuses a timeout rather than ignore it).
 */
const VALID = [...new Set([...GENERIC, ...CLUSTERS.flatMap((c) => [...GENERIC, ...OWN[c]].map((n) => `${c}${capital(n)}`))])].filter(
  (n) => n !== 'debugTimeoutMin',
)

/** The generic values, checked on every cluster (a Slurm config with a typo fails on the laptop too). */
function checkGeneric(name: string, value: unknown): void {
  if (value === null || value === undefined) return
  const posInt = Number.isInteger(value) && (value as number) > 0
  const ok =
    name === 'name'
      ? typeof value === 'string'
      : name === 'stderrToStdout'
        ? typeof value === 'boolean'
        : name === 'timeoutMin' || name === 'memGb'
          ? typeof value === 'number' && value > 0 && Number.isFinite(value)
          : name === 'maxSubmissionSizeGb'
            ? typeof value === 'number' && value >= 0
            : name === 'gpusPerNode'
              ? Number.isInteger(value) && (value as number) >= 0
              : posInt
  if (!ok) throw new ParameterError(`AutoExecutor parameter ${name} cannot be ${JSON.stringify(value)}`)
}

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

/** A cluster name as given, or a ParameterError listing the valid ones (never a silent fallback). */
function checkCluster(value: unknown, from: string): Cluster {
  if ((CLUSTERS as readonly unknown[]).includes(value)) return value as Cluster
  const lower = typeof value === 'string' ? value.toLowerCase() : ''
  const hint = (CLUSTERS as readonly string[]).includes(lower) ? ` (did you mean "${lower}"? names are lower case)` : ''
  throw new ParameterError(`${from} ${JSON.stringify(value)} is not a cluster AutoExecutor knows${hint}; valid ones: ${CLUSTERS.join(', ')}`)
}

/**
 * The cluster AutoExecutor picks: SUBMITIT_CLUSTER if set (a value that is not a cluster throws),
 * else Slurm when sbatch is on the PATH, else local.
 */
export function detectCluster(): Cluster {
  const forced = process.env.SUBMITIT_CLUSTER
  if (forced !== undefined && forced !== '') return checkCluster(forced, 'SUBMITIT_CLUSTER')
  return onPath('sbatch') ? 'slurm' : 'local'
}

export class AutoExecutor {
  readonly cluster: Cluster
  private readonly inner: Executor<object>
  private params: Record<string, unknown> = {}
  /** what the executor was last given (only changes are passed on) */
  private applied: Record<string, unknown> = {}

  constructor(options: { folder: string; cluster?: Cluster } & AutoParameters) {
    const { folder, cluster, ...params } = options
    this.cluster = cluster === undefined ? detectCluster() : checkCluster(cluster, 'cluster')
    this.inner = (this.cluster === 'slurm'
      ? new SlurmExecutor({ folder })
      : this.cluster === 'debug'
        ? new DebugExecutor({ folder })
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

  /**
   * Generic and prefixed parameters. Every misspelled name is reported in one error, with the valid
   * ones; null or undefined unsets a parameter. Nothing changes when anything is refused.
   */
  updateParameters(params: AutoParameters): this {
    checkParameterNames(params, VALID, 'AutoExecutor')
    for (const [name, value] of Object.entries(params)) {
      const generic = (GENERIC as readonly string[]).includes(name)
        ? name
        : CLUSTERS.map((c) => (name.startsWith(c) ? uncapital(name.slice(c.length)) : '')).find((n) => (GENERIC as readonly string[]).includes(n))
      if (generic) checkGeneric(generic, value)
    }
    const merged = { ...this.params, ...params }
    const next = this.forCluster(merged)
    // only what changed: a value given again is not checked again (maxWorkers once the pool runs)
    const changed: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(next)) if (v !== this.applied[k]) changed[k] = v
    this.inner.updateParameters(changed)
    this.params = merged
    this.applied = next
    return this
  }

  /**
   * The parameters the chosen cluster gets: the generic ones it understands under its own names, then
   * its prefixed ones over them. Every name it understands is passed, undefined when unset, so that
   * unsetting a parameter here unsets it there.
   */
  private forCluster(p: Record<string, unknown>): Record<string, unknown> {
    const c = this.cluster
    const out: Record<string, unknown> = {}
    const set = (own: string, value: unknown) => {
      if (value !== null && value !== undefined) out[own] = value
    }
    for (const own of [...Object.values(EQUIVALENCES[c]), ...OWN[c]]) out[own] = undefined
    for (const [generic, own] of Object.entries(EQUIVALENCES[c])) set(own, p[generic])
    for (const [generic, own] of Object.entries(EQUIVALENCES[c])) set(own, p[`${c}${capital(generic)}`])
    for (const own of OWN[c]) set(own, p[`${c}${capital(own)}`])
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

  batch(fn: () => void | Promise<void>, options?: BatchOptions): Promise<Job<unknown>[]> {
    return this.inner.batch(fn, options)
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown()
  }
}
