// Slurm parameters: one camelCase name per submitit parameter, declared as data (SPECS: kind, sbatch
// flag, generic name), checked by updateParameters from SLURM_PARAMETERS (lib/core/params.ts):
// unknown names, wrong types and clashing values fail at the call site, not later in sbatch.
import { closestName, ParameterError } from '../core/errors.js'
import { checkRules, checkValue, type ParameterKind, type ParameterSchema, type ParameterSpec } from '../core/params.js'

/** Memory for --mem-per-cpu / --mem-per-gpu: a number of MB, or a Slurm size string such as '4G'. */
export type SlurmMemory = number | string

export interface SlurmParameters {
  jobName?: string
  partition?: string
  /** --time, in minutes (Slurm only knows whole minutes; fractions are rounded up). */
  timeoutMin?: number
  nodes?: number
  /** --ntasks-per-node */
  tasksPerNode?: number
  cpusPerTask?: number
  /** A count, or 'type:count' such as 'a100:2'. */
  gpusPerNode?: number | string
  gpusPerTask?: number | string
  cpusPerGpu?: number
  /** --mem, in GB; sent in MB (3.5 → 3584M). */
  memGb?: number
  memPerCpu?: SlurmMemory
  memPerGpu?: SlurmMemory
  qos?: string
  account?: string
  constraint?: string
  exclude?: string
  nodelist?: string
  gres?: string
  comment?: string
  /** true → --exclusive; a string → --exclusive=<value> (e.g. 'user'); false → nothing. */
  exclusive?: boolean | string
  dependency?: string
  mailType?: string
  mailUser?: string
  wckey?: string
  /**
   * Seconds before the time limit at which the worker gets SIGUSR2.
   * With useSrun (default) this is --signal=USR2@N: Slurm signals the job *steps*,
   * i.e. the srun-launched worker (observed: with B: only the batch shell gets it,
   * and bash does not forward it to srun). Without srun it is --signal=B:USR2@N,
   * and the batch script forwards the signal to the worker (see script.ts).
   * Slurm's timing is coarse: the signal may come up to ~60 s early.
   */
  signalDelayS?: number
  /** No separate _log.err files: stderr goes to the _log.out file. */
  stderrToStdout?: boolean
  /** Shell lines run before the worker (e.g. 'module load node'). */
  setup?: string[]
  /** Shell lines run after the worker; the worker's exit code is kept. */
  teardown?: string[]
  /** Extra srun arguments, placed before the worker command. */
  srunArgs?: string[]
  /** Run the worker through srun (one log per task, signals to steps). Default true. */
  useSrun?: boolean
  /** At most this many array tasks at once (the %P of --array), over the whole array even when split. */
  arrayParallelism?: number
  /**
   * Elements of a mapArray per Slurm array task (a pack): 1 (default, as submitit) is one Slurm task
   * per element; n > 1 packs n consecutive elements into each, run on the node's thread pool
   * (cpusPerTask threads), each still a job of its own; 'auto' picks n from the array's size and the
   * parallelism. For many short tasks; not when each element needs its own GPUs, memory or time limit.
   */
  chunkSize?: number | 'auto'
  /**
   * How many times a job may be requeued after reaching its time limit (its task's checkpoint saved):
   * default 3, as submitit. Preemptions do not count. Once spent, the job ends TIMEOUT.
   */
  maxNumTimeout?: number
  /** Any other sbatch flag; camelCase or kebab-case keys; merged last, so they override. true → bare flag, false → omitted. */
  additionalParameters?: Record<string, string | number | boolean>
}

/** A newline would end an #SBATCH line or a shell line early: never valid in a flag value. */
function noNewline(v: unknown): string | undefined {
  const bad = (x: unknown) => typeof x === 'string' && /[\n\r\0]/.test(x)
  if (bad(v) || (Array.isArray(v) && v.some(bad))) return `must not contain a newline or NUL character: ${JSON.stringify(v)}`
  return undefined
}

/** additionalParameters: flag names sbatch can take, values on one line. */
function flagRecord(v: unknown): string | undefined {
  for (const [k, x] of Object.entries(v as object)) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(k)) return `key ${JSON.stringify(k)} is not a valid flag name`
    const problem = noNewline(x)
    if (problem) return `.${k} ${problem}`
  }
  return undefined
}

type SlurmSpec = ParameterSpec & { flag?: string }
const spec = (kind: ParameterKind, flag?: string, more: Partial<SlurmSpec> = {}): SlurmSpec => ({ kind, flag, check: noNewline, ...more })

/**
 * Each name, its kind, the sbatch flag it becomes (undefined: not a plain flag) and the generic
 * AutoExecutor name it stands for (submitit's _equivalence_dict).
 */
const SPECS: { [K in keyof Required<SlurmParameters>]: SlurmSpec } = {
  jobName: spec('string', 'job-name', { generic: 'name' }),
  partition: spec('string', 'partition'),
  timeoutMin: spec('posNumber', 'time', { generic: 'timeoutMin' }),
  nodes: spec('posInt', 'nodes', { generic: 'nodes' }),
  tasksPerNode: spec('posInt', 'ntasks-per-node', { generic: 'tasksPerNode' }),
  cpusPerTask: spec('posInt', 'cpus-per-task', { generic: 'cpusPerTask' }),
  gpusPerNode: spec('countOrString', 'gpus-per-node', { generic: 'gpusPerNode', zeroIsUnset: true }),
  gpusPerTask: spec('countOrString', 'gpus-per-task', { zeroIsUnset: true }),
  cpusPerGpu: spec('posInt', 'cpus-per-gpu'),
  memGb: spec('posNumber', 'mem', { generic: 'memGb' }),
  memPerCpu: spec('memory', 'mem-per-cpu'),
  memPerGpu: spec('memory', 'mem-per-gpu'),
  qos: spec('string', 'qos'),
  account: spec('string', 'account'),
  constraint: spec('string', 'constraint'),
  exclude: spec('string', 'exclude'),
  nodelist: spec('string', 'nodelist'),
  gres: spec('string', 'gres'),
  comment: spec('string', 'comment'),
  exclusive: spec('boolOrString', 'exclusive'),
  dependency: spec('string', 'dependency'),
  mailType: spec('string', 'mail-type'),
  mailUser: spec('string', 'mail-user'),
  wckey: spec('string', 'wckey'),
  signalDelayS: spec('nonNegInt', 'signal'),
  stderrToStdout: spec('bool', undefined, { generic: 'stderrToStdout' }),
  setup: spec('stringArray'),
  teardown: spec('stringArray'),
  srunArgs: spec('stringArray'),
  useSrun: spec('bool'),
  arrayParallelism: spec('posInt'),
  chunkSize: spec('posIntOrAuto', undefined, { generic: 'chunkSize' }),
  maxNumTimeout: spec('nonNegInt', undefined, { generic: 'maxNumTimeout' }),
  additionalParameters: spec('record', undefined, { check: flagRecord }),
}

export const SLURM_PARAMETER_NAMES = Object.keys(SPECS) as (keyof SlurmParameters)[]

const MEMORIES = ['memGb', 'memPerCpu', 'memPerGpu'] as const

/** The SlurmExecutor's parameters as data (lib/core/params.ts): checked by updateParameters, mapped by AutoExecutor. */
export const SLURM_PARAMETERS: ParameterSchema = {
  specs: SPECS,
  label: 'Slurm parameter',
  rules: [
    (p) => {
      const packs = p.chunkSize !== undefined && p.chunkSize !== null && p.chunkSize !== 1
      const tasks = [p.nodes, p.tasksPerNode].some((v) => typeof v === 'number' && v > 1)
      return packs && tasks
        ? `Slurm parameter chunkSize ${JSON.stringify(p.chunkSize)} packs single-task elements: it cannot be combined with nodes or tasksPerNode above 1`
        : undefined
    },
    (p) => {
      const mems = MEMORIES.filter((k) => p[k] !== undefined && p[k] !== null)
      return mems.length > 1
        ? `Slurm parameters ${mems.join(' and ')} are mutually exclusive (sbatch rejects --mem with --mem-per-cpu/--mem-per-gpu): unset all but one (null)`
        : undefined
    },
  ],
}

/**
 * Check names, types and the rules between them; returns a copy holding only the given
 * (non-undefined) values. Throws a ParameterError naming the bad parameter (with the closest valid
 * name and every valid name for an unknown one).
 */
export function validateSlurmParameters(obj: unknown): SlurmParameters {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ParameterError(`Slurm parameters must be an object, got ${obj === null ? 'null' : typeof obj}`)
  }
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(obj)) {
    if (!Object.hasOwn(SPECS, name)) {
      const close = closestName(name, SLURM_PARAMETER_NAMES)
      throw new ParameterError(
        `Unknown Slurm parameter "${name}"${close ? ` (did you mean "${close}"?)` : ''}. ` +
          `Valid names: ${SLURM_PARAMETER_NAMES.join(', ')}. ` +
          'Other sbatch flags go in additionalParameters.',
      )
    }
    if (value === undefined) continue
    const s = SPECS[name as keyof SlurmParameters]
    checkValue(s, name, value, SLURM_PARAMETERS.label)
    out[name] = Array.isArray(value) ? [...value] : s.kind === 'record' ? { ...(value as object) } : value
  }
  checkRules(SLURM_PARAMETERS, out)
  return out as SlurmParameters
}

/** someName / some_name / some-name → some-name */
export function kebabCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/_/g, '-')
    .toLowerCase()
}

function memoryValue(v: SlurmMemory): string {
  return typeof v === 'number' ? `${Math.ceil(v)}M` : v.toUpperCase()
}

/**
 * The sbatch flags for the parameters, as `--flag=value` (or a bare `--flag`), in a fixed order.
 * additionalParameters come last and replace a flag of the same name.
 * Script-level parameters (setup, srun, array, logs) are not flags: see script.ts.
 */
export function sbatchFlags(input: SlurmParameters): string[] {
  const params = validateSlurmParameters(input)
  const flags = new Map<string, string | true>()
  for (const name of SLURM_PARAMETER_NAMES) {
    const flag = SPECS[name].flag
    const v = params[name]
    if (flag === undefined || v === undefined || v === false) continue
    if (name === 'timeoutMin') flags.set(flag, String(Math.ceil(v as number)))
    else if (name === 'memGb') flags.set(flag, `${Math.round((v as number) * 1024)}M`)
    else if (name === 'memPerCpu' || name === 'memPerGpu') flags.set(flag, memoryValue(v as SlurmMemory))
    else if (name === 'signalDelayS') flags.set(flag, `${params.useSrun === false ? 'B:' : ''}USR2@${v as number}`)
    else flags.set(flag, v === true ? true : String(v))
  }
  for (const [key, v] of Object.entries(params.additionalParameters ?? {})) {
    const flag = kebabCase(key)
    flags.delete(flag) // re-insert at the end: "merged last"
    if (v !== false) flags.set(flag, v === true ? true : String(v))
  }
  return [...flags].map(([flag, v]) => (v === true ? `--${flag}` : `--${flag}=${v}`))
}

/**
 * A Slurm time ('MM', 'MM:SS', 'HH:MM:SS', 'D-HH', 'D-HH:MM', 'D-HH:MM:SS') in seconds; undefined for
 * 'UNLIMITED', 'INFINITE' or anything else.
 */
export function slurmTimeSeconds(value: string): number | undefined {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(value.trim())
  if (!m) return undefined
  const [, d, a, b, c] = m
  const n = (x: string | undefined) => (x === undefined ? 0 : Number(x))
  if (d !== undefined) return n(d) * 86400 + n(a) * 3600 + n(b) * 60 + n(c) // D-HH[:MM[:SS]]
  if (c !== undefined) return n(a) * 3600 + n(b) * 60 + n(c) // HH:MM:SS
  return n(a) * 60 + n(b) // MM[:SS]
}
