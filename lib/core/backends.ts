// The registry of backends: debug, local, slurm (listed in lib/backends.ts) and any third-party one
// (PBS, LSF...) registered with registerBackend(). AutoExecutor picks and drives a backend from its
// entry, attachJob and the command line watch a job through the entry its submission names.
// Nothing here imports a backend: the core only knows the entries it is given.
import { BackendError } from './errors.js'
import type { Executor } from './executor.js'
import type { SubmissionRecord } from './format.js'
import type { Job, JobWatcher } from './job.js'
import { GENERIC_NAMES, type ParameterSchema, schemaProblem } from './params.js'

export interface BackendDefinition {
  /** lower case letters and digits ('pbs'); also the prefix of its parameters in AutoExecutor ('pbsQueue') */
  readonly name: string
  /**
   * An executor of this backend on `folder`, with its default parameters (AutoExecutor sets them
   * after). `commands`: where the scheduler's commands are, for a backend that runs any (tests use fakes).
   */
  createExecutor(options: { folder: string; commands?: unknown }): Executor<object>
  /**
   * The parameters of this backend a submission was made with that its record does not hold (Slurm:
   * the batch script's partition, account, CPUs, memory...): rerun() submits again with them.
   */
  parametersOf?(record: SubmissionRecord): Record<string, unknown>
  /** Its parameters, as data: AutoExecutor's names and generic mapping come from it, updateParameters checks with it. */
  readonly parameters: ParameterSchema
  /**
   * Can its jobs run here (sbatch on the PATH...)? AutoExecutor without a cluster named picks the
   * available backend with the highest priority. Without it, a backend is used only when named
   * (cluster: 'debug'). One that throws is taken as unavailable (with a warning).
   */
  isAvailable?(): boolean
  /** higher first among available backends (slurm 10, local 0); ties: the first registered */
  readonly priority?: number
  /**
   * How another process watches a job of this backend (attachJob, the command line), from its
   * submission record. Default: its result files, and the life of the process that submitted it.
   */
  attach?(record: SubmissionRecord): JobWatcher
  /** Asks the scheduler once about every attached job not final yet (the command line, before it prints states). */
  refresh?(): Promise<void>
  /**
   * Cancels many attached jobs of one submission at once (the command line's cancel of an array):
   * one scheduler call rather than one per job. Resolves once they are final. Default: each job's cancel().
   */
  cancelJobs?(record: SubmissionRecord, jobs: readonly Job<unknown>[]): Promise<void>
  /**
   * When and where jobs of a submission ran, for those that ended without recording it (killed by the
   * scheduler: its time limit, a cancel, out of memory): job id → times (ms since the epoch) and host.
   * A job it cannot tell about is left out; it never throws (no accounting: an empty map).
   */
  timings?(record: SubmissionRecord, jobIds: readonly string[]): Promise<Map<string, { startedAt?: number; endedAt?: number; host?: string }>>
}

const registry = new Map<string, BackendDefinition>()
const builtins = new Set<string>()

/**
 * Adds a backend. Its name must be new, lower case letters and digits, and not make a generic
 * parameter look like one of its own (a backend 'mem' would read memGb as its 'gb'). Throws a
 * BackendError saying what is wrong; nothing is registered then.
 */
export function registerBackend(definition: BackendDefinition, options: { builtin?: boolean } = {}): void {
  const problem = definitionProblem(definition)
  if (problem) throw new BackendError(`cannot register backend ${showName(definition)}: ${problem}`)
  const existing = registry.get(definition.name)
  if (existing === definition) return // the same entry again (a module loaded twice): nothing to do
  if (existing) {
    throw new BackendError(
      `cannot register backend "${definition.name}": a ${builtins.has(definition.name) ? 'built-in ' : ''}backend of that name is registered already; ` +
        'choose another name (it is also the prefix of its parameters in AutoExecutor)',
    )
  }
  registry.set(definition.name, definition)
  if (options.builtin) builtins.add(definition.name)
}

/** Removes a registered third-party backend (tests, a plugin unloading); built-in ones stay. Returns whether it was there. */
export function unregisterBackend(name: string): boolean {
  if (builtins.has(name)) throw new BackendError(`backend "${name}" is built in: it cannot be unregistered`)
  return registry.delete(name)
}

/** The backend registered under `name`, if any. */
export function getBackend(name: string): BackendDefinition | undefined {
  return registry.get(name)
}

/** Every registered backend, in the order of registration (the built-in ones first). */
export function listBackends(): BackendDefinition[] {
  return [...registry.values()]
}

function showName(definition: unknown): string {
  const name = (definition as { name?: unknown } | null)?.name
  return typeof name === 'string' ? `"${name}"` : `(name ${String(name)})`
}

function definitionProblem(d: BackendDefinition): string | undefined {
  if (typeof d !== 'object' || d === null) return 'a definition must be an object'
  if (typeof d.name !== 'string' || !/^[a-z][a-z0-9]*$/.test(d.name))
    return `its name must be lower case letters and digits, starting with a letter, got ${JSON.stringify(d.name)}`
  const clash = GENERIC_NAMES.find((g) => g.length > d.name.length && g.startsWith(d.name) && /[A-Z]/.test(g[d.name.length]))
  if (clash)
    return `AutoExecutor would read the generic parameter ${clash} as its parameter "${clash[d.name.length].toLowerCase()}${clash.slice(d.name.length + 1)}"; choose another name`
  if (typeof d.createExecutor !== 'function') return 'it has no createExecutor({ folder }) function'
  for (const key of ['isAvailable', 'attach', 'refresh'] as const) {
    if (d[key] !== undefined && typeof d[key] !== 'function') return `its ${key} must be a function`
  }
  if (d.priority !== undefined && !Number.isFinite(d.priority)) return `its priority must be a finite number, got ${String(d.priority)}`
  return schemaProblem(d.parameters)
}
