// AutoExecutor: the same code on a laptop and on a cluster. It picks a backend from the registry
// (lib/core/backends.ts): Slurm when sbatch is on the PATH, a plugin's scheduler when its check says
// so, else the LocalExecutor; and takes one set of parameters for all: generic names work
// everywhere, and any parameter can be given for one cluster alone with its prefix (slurmPartition,
// slurmTimeoutMin, localMaxWorkers, debugTasksPerNode, pbsQueue...), which wins over the generic one
// there. Each backend declares, in its parameter schema, which generic names it understands and under
// which name of its own (submitit's _equivalence_dict); the others are ignored there, so a script
// written for Slurm runs unchanged on a laptop. Names and generic values are checked whatever the cluster.
import { BUILTIN_BACKENDS } from '../backends.js'
import { type BackendDefinition, getBackend, listBackends } from '../core/backends.js'
import { BackendError, checkParameterNames, ParameterError } from '../core/errors.js'
import type { BatchOptions, CoreParameters, Delayed, Executor, Iterables, ParameterUpdate } from '../core/executor.js'
import type { Job } from '../core/job.js'
import { allSpecs, equivalences, GENERIC_NAMES, GENERIC_SPECS, type GenericName, hasKind, kindText, showValue } from '../core/params.js'
import type { TaskLike } from '../core/task.js'
import type { DebugParameters } from '../debug/params.js'
import type { LocalParameters } from '../local/params.js'
import type { SlurmParameters } from '../slurm/params.js'

/** The built-in clusters (a plugin adds its own: see registerBackend). */
export const CLUSTERS = BUILTIN_BACKENDS.map((b) => b.name) as readonly ('debug' | 'local' | 'slurm')[]
/** A built-in cluster's name, or a registered plugin's. */
export type Cluster = 'debug' | 'local' | 'slurm' | (string & {})

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
  /** Slurm: elements per array task (see SlurmParameters.chunkSize); locally chunks are always sized automatically */
  chunkSize?: number | 'auto'
  /**
   * requeues allowed after a time limit, from the task's checkpoint (default 3, as submitit's
   * max_num_timeout): Slurm and the LocalExecutor; ignored on the DebugExecutor (no time limit there)
   */
  maxNumTimeout?: number
}

/** The parameters of one cluster under its prefix (slurmPartition, localMaxWorkers). */
export type Prefixed<P, Prefix extends string> = { [K in keyof P as `${Prefix}${Capitalize<K & string>}`]?: P[K] | null }

export type AutoParameters = ParameterUpdate<GenericParameters> &
  Prefixed<SlurmParameters & Omit<GenericParameters, keyof SlurmParameters>, 'slurm'> &
  Prefixed<LocalParameters & GenericParameters, 'local'> &
  Prefixed<DebugParameters & Omit<GenericParameters, 'timeoutMin'>, 'debug'>

const capital = (s: string) => s[0].toUpperCase() + s.slice(1)
const uncapital = (s: string) => s[0].toLowerCase() + s.slice(1)
const isGeneric = (name: string): name is GenericName => (GENERIC_NAMES as readonly string[]).includes(name)

/**
 * The names a cluster takes with its prefix: each of its own parameters and every generic name (a
 * generic name it does not understand is ignored there), but those it refuses set (debugTimeoutMin:
 * the DebugExecutor refuses a timeout rather than ignore it).
 */
function prefixedNames(backend: BackendDefinition): string[] {
  const names = new Set([...Object.keys(allSpecs(backend.parameters)), ...GENERIC_NAMES])
  for (const refused of Object.keys(backend.parameters.refuses ?? {})) names.delete(refused)
  return [...names].map((n) => `${backend.name}${capital(n)}`)
}

/** Every name AutoExecutor takes now: the generic ones, and every registered cluster's prefixed ones. */
function validNames(): string[] {
  return [...new Set([...GENERIC_NAMES, ...listBackends().flatMap(prefixedNames)])]
}

/** The generic name a given name stands for (itself, or a cluster's prefixed one), if any. */
function genericOf(name: string): GenericName | undefined {
  if (isGeneric(name)) return name
  for (const b of listBackends()) {
    if (name.length > b.name.length && name.startsWith(b.name) && /[A-Z]/.test(name[b.name.length])) {
      const rest = uncapital(name.slice(b.name.length))
      if (isGeneric(rest)) return rest
    }
  }
  return undefined
}

/** The generic values, checked on every cluster (a Slurm config with a typo fails on the laptop too). */
function checkGeneric(name: string, generic: GenericName, value: unknown): void {
  if (value === null || value === undefined) return
  const spec = GENERIC_SPECS[generic]
  if (!hasKind(spec, value)) {
    throw new ParameterError(
      `AutoExecutor parameter ${generic} cannot be ${showValue(value)}${name === generic ? '' : ` (given as ${name})`}: it must be ${kindText(spec)}`,
    )
  }
}

/** A cluster name as given, or a ParameterError listing the valid ones (never a silent fallback). */
function checkCluster(value: unknown, from: string): BackendDefinition {
  const found = typeof value === 'string' ? getBackend(value) : undefined
  if (found) return found
  const names = listBackends().map((b) => b.name)
  const lower = typeof value === 'string' ? value.toLowerCase() : ''
  const hint = names.includes(lower) ? ` (did you mean "${lower}"? names are lower case)` : ''
  throw new ParameterError(`${from} ${JSON.stringify(value)} is not a cluster AutoExecutor knows${hint}; valid ones: ${names.join(', ')}`)
}

/** Whether a backend can run here; one whose check throws cannot (with a warning saying why). */
function available(backend: BackendDefinition): boolean {
  if (!backend.isAvailable) return false
  try {
    return backend.isAvailable() === true
  } catch (e) {
    process.emitWarning(`the isAvailable() of backend "${backend.name}" threw, so it is taken as unavailable: ${(e as Error)?.message ?? String(e)}`, {
      code: 'SUBMITIT_BACKEND_CHECK_FAILED',
    })
    return false
  }
}

/**
 * The cluster AutoExecutor picks: SUBMITIT_CLUSTER if set (a value that is not a registered cluster
 * throws), else the available backend with the highest priority (Slurm when sbatch is on the PATH,
 * a plugin's scheduler when its check says so), else local.
 */
export function detectCluster(): Cluster {
  const forced = process.env.SUBMITIT_CLUSTER
  if (forced !== undefined && forced !== '') return checkCluster(forced, 'SUBMITIT_CLUSTER').name
  let best: BackendDefinition | undefined
  for (const b of listBackends()) if (available(b) && (best === undefined || (b.priority ?? 0) > (best.priority ?? 0))) best = b
  if (!best) throw new BackendError('no registered backend is available here (the local one always is: was it unregistered?)')
  return best.name
}

/**
 * The same code on every cluster: generic parameters and prefixed ones, mapped for the chosen
 * cluster from its registry entry. `X` types the parameters of a plugin's cluster
 * (`AutoExecutor<{ pbsQueue?: string }>`).
 */
export class AutoExecutor<X extends object = object> {
  readonly cluster: Cluster
  private readonly backend: BackendDefinition
  private readonly inner: Executor<object>
  private params: Record<string, unknown> = {}
  /** what the executor was last given (only changes are passed on) */
  private applied: Record<string, unknown> = {}

  constructor(options: { folder: string; cluster?: Cluster } & AutoParameters & ParameterUpdate<NoInfer<X>>) {
    const { folder, cluster, ...params } = options
    this.backend = cluster === undefined ? checkCluster(detectCluster(), 'cluster') : checkCluster(cluster, 'cluster')
    this.cluster = this.backend.name
    this.inner = this.backend.createExecutor({ folder })
    this.updateParameters(params as AutoParameters & ParameterUpdate<X>)
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
  updateParameters(params: AutoParameters & ParameterUpdate<NoInfer<X>>): this {
    checkParameterNames(params, validNames(), 'AutoExecutor')
    for (const [name, value] of Object.entries(params)) {
      const generic = genericOf(name)
      if (generic) checkGeneric(name, generic, value)
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
    const { name: c, parameters } = this.backend
    const own = Object.keys(allSpecs(parameters))
    const generic = equivalences(parameters)
    const out: Record<string, unknown> = {}
    const set = (name: string, value: unknown) => {
      if (value !== null && value !== undefined) out[name] = value
    }
    for (const name of own) out[name] = undefined
    for (const [g, name] of generic) set(name, p[g])
    for (const [g, name] of generic) set(name, p[`${c}${capital(g)}`])
    for (const name of own) set(name, p[`${c}${capital(name)}`])
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
