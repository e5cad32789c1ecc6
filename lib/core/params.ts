// One parameter schema for every backend: each declares its parameters as data (name, kind, the
// generic name it stands for: submitit's _equivalence_dict), and the rules that tie several of them.
// Executor.updateParameters checks names, values and rules from it; AutoExecutor reads its generic
// mapping from it. Slurm's table is lib/slurm/params.ts, the LocalExecutor's lib/local/params.ts.
import { ParameterError } from './errors.js'

export type ParameterKind =
  | 'string'
  | 'bool'
  | 'posInt'
  | 'nonNegInt'
  | 'posNumber'
  | 'nonNegNumber'
  | 'stringArray'
  /** one of `values` */
  | 'oneOf'
  /** a positive integer or a string such as 'a100:2' */
  | 'countOrString'
  /** a positive integer or 'auto' */
  | 'posIntOrAuto'
  /** a number of MB or a size string such as '4G' */
  | 'memory'
  | 'boolOrString'
  /** an object of string, number or boolean values */
  | 'record'

/** The names AutoExecutor takes for every cluster (submitit's generic parameters). */
export const GENERIC_NAMES = [
  'name',
  'timeoutMin',
  'memGb',
  'nodes',
  'cpusPerTask',
  'gpusPerNode',
  'tasksPerNode',
  'stderrToStdout',
  'maxSubmissionSizeGb',
  'chunkSize',
  'maxNumTimeout',
] as const
export type GenericName = (typeof GENERIC_NAMES)[number]

export interface ParameterSpec {
  kind: ParameterKind
  /** the allowed values of a 'oneOf' */
  values?: readonly (string | number | boolean)[]
  /** the largest value of a number */
  max?: number
  /** what a value must be, in words, when the kind alone does not say it ('a positive number of GB') */
  text?: string
  /** a check beyond the kind: what is wrong with the value, or undefined */
  check?: (value: unknown) => string | undefined
  /** the generic AutoExecutor name this parameter stands for (AutoExecutor's timeoutMin → Slurm's timeoutMin, name → jobName) */
  generic?: GenericName
  /** 0 means none, the same as leaving it unset (gpusPerNode: 0) */
  zeroIsUnset?: boolean
}

/** A rule between parameters, checked on the merged set: what is wrong, or undefined. */
export type ParameterRule = (params: Readonly<Record<string, unknown>>) => string | undefined

export interface ParameterSchema {
  /** every parameter of the backend */
  specs: Readonly<Record<string, ParameterSpec>>
  /** rules between parameters (memGb with memPerCpu), checked on the merged set at updateParameters */
  rules?: readonly ParameterRule[]
  /** names accepted only unset: the message when one is set (the DebugExecutor's timeoutMin) */
  refuses?: Readonly<Record<string, string>>
  /** how a value error begins ('Slurm parameter'); default: nothing before the name */
  label?: string
}

/** Parameters every executor takes, checked by the core (see CoreParameters in executor.ts). */
export const CORE_SPECS: Readonly<Record<string, ParameterSpec>> = {
  stderrToStdout: { kind: 'bool', generic: 'stderrToStdout' },
  maxSubmissionSizeGb: { kind: 'nonNegNumber', text: 'a number of GB >= 0 (Infinity: no limit)', generic: 'maxSubmissionSizeGb' },
}

/** What AutoExecutor's generic names must be, whatever the cluster (a Slurm config with a typo fails on a laptop too). */
export const GENERIC_SPECS: Readonly<Record<GenericName, ParameterSpec>> = {
  name: { kind: 'string' },
  timeoutMin: { kind: 'posNumber' },
  memGb: { kind: 'posNumber' },
  nodes: { kind: 'posInt' },
  cpusPerTask: { kind: 'posInt' },
  gpusPerNode: { kind: 'nonNegInt' },
  tasksPerNode: { kind: 'posInt' },
  stderrToStdout: { kind: 'bool' },
  maxSubmissionSizeGb: { kind: 'nonNegNumber' },
  chunkSize: { kind: 'posIntOrAuto' },
  maxNumTimeout: { kind: 'nonNegInt' },
}

const KIND_TEXT: Record<ParameterKind, string> = {
  string: 'a string',
  bool: 'a boolean',
  posInt: 'a positive integer',
  nonNegInt: 'a non-negative integer',
  posNumber: 'a positive number',
  nonNegNumber: 'a number >= 0',
  stringArray: 'an array of strings',
  oneOf: 'one of',
  countOrString: "a positive integer or a string such as 'a100:2'",
  memory: "a number of MB or a size string such as '4G' or '4096M'",
  boolOrString: 'a boolean or a string',
  record: 'an object of string, number or boolean values',
  posIntOrAuto: "a positive integer or 'auto'",
}

const MEMORY_RE = /^\d+(\.\d+)?[KMGT]?$/i

/** Whether `v` is of the spec's kind (and within its bounds). */
export function hasKind(spec: ParameterSpec, v: unknown): boolean {
  const posInt = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x > 0
  const inBounds = (x: unknown) => spec.max === undefined || (x as number) <= spec.max
  switch (spec.kind) {
    case 'string':
      return typeof v === 'string'
    case 'bool':
      return typeof v === 'boolean'
    case 'posInt':
      return posInt(v) && inBounds(v)
    case 'nonNegInt':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && inBounds(v)
    case 'posNumber':
      return typeof v === 'number' && Number.isFinite(v) && v > 0 && inBounds(v)
    case 'nonNegNumber':
      return typeof v === 'number' && v >= 0 && inBounds(v) // Infinity: no limit
    case 'stringArray':
      return Array.isArray(v) && v.every((x) => typeof x === 'string')
    case 'oneOf':
      return (spec.values ?? []).includes(v as string)
    case 'countOrString':
      return posInt(v) || (typeof v === 'string' && /^([\w.-]+:)?\d+$/.test(v))
    case 'posIntOrAuto':
      return posInt(v) || v === 'auto'
    case 'memory':
      return (typeof v === 'number' && Number.isFinite(v) && v > 0) || (typeof v === 'string' && MEMORY_RE.test(v))
    case 'boolOrString':
      return typeof v === 'boolean' || typeof v === 'string'
    case 'record':
      return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => ['string', 'number', 'boolean'].includes(typeof x))
  }
}

/** What a value of the spec must be, in words. */
export function kindText(spec: ParameterSpec): string {
  if (spec.text) return spec.text
  if (spec.kind === 'oneOf') return (spec.values ?? []).map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' or ')
  return KIND_TEXT[spec.kind] + (spec.max === undefined ? '' : ` up to ${spec.max}`)
}

/** A value as an error message shows it (JSON would print Infinity and NaN as null, a function as nothing). */
export function showValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'function' || typeof v === 'symbol' || v === undefined) return String(v)
  try {
    return JSON.stringify(v) ?? String(v)
  } catch {
    return String(v) // a cycle
  }
}

/** Checks one set value against its spec; a ParameterError names the parameter, what it must be and what it got. */
export function checkValue(spec: ParameterSpec, name: string, value: unknown, label?: string): void {
  const prefix = label ? `${label} ` : ''
  if (!hasKind(spec, value)) throw new ParameterError(`${prefix}${name} must be ${kindText(spec)}, got ${showValue(value)}`)
  const problem = spec.check?.(value)
  if (problem !== undefined) throw new ParameterError(`${prefix}${name} ${problem}`)
}

/** Checks the merged parameters against the schema's rules: a ParameterError for the first rule broken. */
export function checkRules(schema: ParameterSchema, params: Readonly<Record<string, unknown>>): void {
  for (const rule of schema.rules ?? []) {
    const problem = rule(params)
    if (problem !== undefined) throw new ParameterError(problem)
  }
}

/** A schema's specs with the core ones (stderrToStdout, maxSubmissionSizeGb); the backend's own win. */
export function allSpecs(schema: ParameterSchema): Readonly<Record<string, ParameterSpec>> {
  return { ...CORE_SPECS, ...schema.specs }
}

/** The generic names a schema understands, each with its own name for it (submitit's _equivalence_dict). */
export function equivalences(schema: ParameterSchema): Map<GenericName, string> {
  const out = new Map<GenericName, string>()
  for (const [name, spec] of Object.entries(allSpecs(schema))) if (spec.generic) out.set(spec.generic, name)
  return out
}

/**
 * Checks a schema itself (a plugin's): known kinds, generic names that exist, each generic name
 * taken by one parameter at most. Returns what is wrong, or undefined.
 */
export function schemaProblem(schema: unknown): string | undefined {
  if (typeof schema !== 'object' || schema === null) return 'its parameters must be a schema: { specs: { name: { kind } } }'
  const { specs, rules, refuses } = schema as ParameterSchema
  if (typeof specs !== 'object' || specs === null) return 'its parameters have no specs object'
  const generics = new Map<string, string>()
  for (const [name, spec] of Object.entries(specs)) {
    if (!/^[a-z][A-Za-z0-9]*$/.test(name)) return `its parameter name ${JSON.stringify(name)} is not a camelCase name`
    if (typeof spec !== 'object' || spec === null || !(spec.kind in KIND_TEXT)) {
      return `its parameter ${name} has no known kind (one of ${Object.keys(KIND_TEXT).join(', ')})`
    }
    if (spec.generic !== undefined) {
      if (!(GENERIC_NAMES as readonly string[]).includes(spec.generic))
        return `its parameter ${name} maps the generic name ${JSON.stringify(spec.generic)}, which is not one (${GENERIC_NAMES.join(', ')})`
      const other = generics.get(spec.generic)
      if (other) return `its parameters ${other} and ${name} both stand for the generic ${spec.generic}`
      generics.set(spec.generic, name)
    }
  }
  if (rules !== undefined && (!Array.isArray(rules) || rules.some((r) => typeof r !== 'function'))) return 'its rules must be an array of functions'
  if (refuses !== undefined) for (const name of Object.keys(refuses)) if (!(name in specs)) return `it refuses ${name}, which is not one of its parameters`
  return undefined
}
