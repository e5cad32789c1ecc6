// Slurm parameters: one camelCase name per submitit parameter, validated once
// (unknown names and wrong types fail loudly at the call site, not later in sbatch).

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
   * How many times a job may be requeued after reaching its time limit (its task's checkpoint saved):
   * default 3, as submitit. Preemptions do not count. Once spent, the job ends TIMEOUT.
   */
  maxNumTimeout?: number
  /** Any other sbatch flag; camelCase or kebab-case keys; merged last, so they override. true → bare flag, false → omitted. */
  additionalParameters?: Record<string, string | number | boolean>
}

type Kind = 'string' | 'posInt' | 'nonNegInt' | 'posNumber' | 'countOrString' | 'memory' | 'boolOrString' | 'bool' | 'stringArray' | 'record'

/** Each name, its kind, and the sbatch flag it becomes (undefined: not a plain flag). */
const SPECS: { [K in keyof Required<SlurmParameters>]: { kind: Kind; flag?: string } } = {
  jobName: { kind: 'string', flag: 'job-name' },
  partition: { kind: 'string', flag: 'partition' },
  timeoutMin: { kind: 'posNumber', flag: 'time' },
  nodes: { kind: 'posInt', flag: 'nodes' },
  tasksPerNode: { kind: 'posInt', flag: 'ntasks-per-node' },
  cpusPerTask: { kind: 'posInt', flag: 'cpus-per-task' },
  gpusPerNode: { kind: 'countOrString', flag: 'gpus-per-node' },
  gpusPerTask: { kind: 'countOrString', flag: 'gpus-per-task' },
  cpusPerGpu: { kind: 'posInt', flag: 'cpus-per-gpu' },
  memGb: { kind: 'posNumber', flag: 'mem' },
  memPerCpu: { kind: 'memory', flag: 'mem-per-cpu' },
  memPerGpu: { kind: 'memory', flag: 'mem-per-gpu' },
  qos: { kind: 'string', flag: 'qos' },
  account: { kind: 'string', flag: 'account' },
  constraint: { kind: 'string', flag: 'constraint' },
  exclude: { kind: 'string', flag: 'exclude' },
  nodelist: { kind: 'string', flag: 'nodelist' },
  gres: { kind: 'string', flag: 'gres' },
  comment: { kind: 'string', flag: 'comment' },
  exclusive: { kind: 'boolOrString', flag: 'exclusive' },
  dependency: { kind: 'string', flag: 'dependency' },
  mailType: { kind: 'string', flag: 'mail-type' },
  mailUser: { kind: 'string', flag: 'mail-user' },
  wckey: { kind: 'string', flag: 'wckey' },
  signalDelayS: { kind: 'nonNegInt', flag: 'signal' },
  stderrToStdout: { kind: 'bool' },
  setup: { kind: 'stringArray' },
  teardown: { kind: 'stringArray' },
  srunArgs: { kind: 'stringArray' },
  useSrun: { kind: 'bool' },
  arrayParallelism: { kind: 'posInt' },
  maxNumTimeout: { kind: 'nonNegInt' },
  additionalParameters: { kind: 'record' },
}

export const SLURM_PARAMETER_NAMES = Object.keys(SPECS) as (keyof SlurmParameters)[]

const KIND_TEXT: Record<Kind, string> = {
  string: 'a string',
  posInt: 'a positive integer',
  nonNegInt: 'a non-negative integer',
  posNumber: 'a positive number',
  countOrString: "a positive integer or a string such as 'a100:2'",
  memory: "a number of MB or a size string such as '4G' or '4096M'",
  boolOrString: 'a boolean or a string',
  bool: 'a boolean',
  stringArray: 'an array of strings',
  record: 'an object of string, number or boolean values',
}

const MEMORY_RE = /^\d+(\.\d+)?[KMGT]?$/i

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return row[b.length]!
}

/** Compare names without case, '_' or '-', so submitit's 'timeout_min' finds 'timeoutMin'. */
function closestName(name: string): string {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '')
  let best = SLURM_PARAMETER_NAMES[0]!
  let bestScore = Infinity
  for (const candidate of SLURM_PARAMETER_NAMES) {
    const score = levenshtein(norm(name), norm(candidate))
    if (score < bestScore) [best, bestScore] = [candidate, score]
  }
  return best
}

function hasKind(kind: Kind, v: unknown): boolean {
  const posInt = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x > 0
  switch (kind) {
    case 'string':
      return typeof v === 'string'
    case 'posInt':
      return posInt(v)
    case 'nonNegInt':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0
    case 'posNumber':
      return typeof v === 'number' && Number.isFinite(v) && v > 0
    case 'countOrString':
      return posInt(v) || (typeof v === 'string' && /^([\w.-]+:)?\d+$/.test(v))
    case 'memory':
      return (typeof v === 'number' && Number.isFinite(v) && v > 0) || (typeof v === 'string' && MEMORY_RE.test(v))
    case 'boolOrString':
      return typeof v === 'boolean' || typeof v === 'string'
    case 'bool':
      return typeof v === 'boolean'
    case 'stringArray':
      return Array.isArray(v) && v.every((x) => typeof x === 'string')
    case 'record':
      return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => ['string', 'number', 'boolean'].includes(typeof x))
  }
}

/** A newline would end an #SBATCH line or a shell line early: never valid in a flag value. */
function checkNoNewline(name: string, v: unknown): void {
  if (typeof v === 'string' && /[\n\r\0]/.test(v)) {
    throw new Error(`Slurm parameter ${name} must not contain a newline or NUL character: ${JSON.stringify(v)}`)
  }
}

/**
 * Check names and types; returns a copy holding only the given (non-undefined) values.
 * Throws an Error naming the bad parameter, the closest valid name and every valid name.
 */
export function validateSlurmParameters(obj: unknown): SlurmParameters {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new Error(`Slurm parameters must be an object, got ${obj === null ? 'null' : typeof obj}`)
  }
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(obj)) {
    if (!Object.hasOwn(SPECS, name)) {
      throw new Error(
        `Unknown Slurm parameter "${name}" (did you mean "${closestName(name)}"?). ` +
          `Valid names: ${SLURM_PARAMETER_NAMES.join(', ')}. ` +
          'Other sbatch flags go in additionalParameters.',
      )
    }
    if (value === undefined) continue
    const { kind } = SPECS[name as keyof SlurmParameters]
    if (!hasKind(kind, value)) {
      throw new Error(`Slurm parameter ${name} must be ${KIND_TEXT[kind]}, got ${JSON.stringify(value)}`)
    }
    checkNoNewline(name, value)
    if (Array.isArray(value)) value.forEach((line) => checkNoNewline(name, line))
    if (kind === 'record') {
      for (const [k, v] of Object.entries(value as object)) {
        if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(k)) throw new Error(`additionalParameters key ${JSON.stringify(k)} is not a valid flag name`)
        checkNoNewline(`additionalParameters.${k}`, v)
      }
    }
    out[name] = Array.isArray(value) ? [...value] : kind === 'record' ? { ...(value as object) } : value
  }
  const mems = ['memGb', 'memPerCpu', 'memPerGpu'].filter((k) => out[k] !== undefined)
  if (mems.length > 1) {
    throw new Error(`Slurm parameters ${mems.join(' and ')} are mutually exclusive (sbatch rejects --mem with --mem-per-cpu/--mem-per-gpu)`)
  }
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
