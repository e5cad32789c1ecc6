// Thin execa wrappers around the Slurm commands. Arguments are always argv arrays
// (no shell). The program for each command can be replaced (tests use fakes):
// options.bin[name], else $SUBMITIT_SLURM_BIN_DIR/name, else the name on PATH.

import { join } from 'node:path'
import { FailedSubmissionError, SlurmCommandError } from './errors.js'

export type SlurmCommandName = 'sbatch' | 'sacct' | 'squeue' | 'scancel' | 'scontrol' | 'sinfo'

export interface SlurmCommandOptions {
  /** Full path (or name) per command. */
  bin?: Partial<Record<SlurmCommandName, string>>
  /** Directory holding all commands; default $SUBMITIT_SLURM_BIN_DIR. */
  binDir?: string
  /** Environment for the commands (default: this process's). */
  env?: NodeJS.ProcessEnv
  /** Longest comma-joined id list in one call; default 32,000 characters. */
  maxIdsLength?: number
  /** Kill a command that hangs (slurmctld unreachable); default 60 s. */
  timeoutMs?: number
}

/**
 * Linux caps ONE argument at 128 KiB (MAX_ARG_STRLEN); -j takes all ids as one argument.
 * 32,000 stays well below it and below what sites' wrappers tend to accept.
 */
export const DEFAULT_MAX_IDS_LENGTH = 32_000

export function commandPath(name: SlurmCommandName, options: SlurmCommandOptions = {}): string {
  const explicit = options.bin?.[name]
  if (explicit) return explicit
  const dir = options.binDir ?? (options.env ?? process.env).SUBMITIT_SLURM_BIN_DIR
  return dir ? join(dir, name) : name
}

/** Split ids into groups whose comma-joined length stays within maxLength (at least one id per group). */
export function batchIds(ids: readonly string[], maxLength = DEFAULT_MAX_IDS_LENGTH): string[][] {
  const batches: string[][] = []
  let current: string[] = []
  let length = 0
  for (const id of ids) {
    const added = current.length === 0 ? id.length : id.length + 1
    if (current.length > 0 && length + added > maxLength) {
      batches.push(current)
      current = []
      length = 0
    }
    length += current.length === 0 ? id.length : id.length + 1
    current.push(id)
  }
  if (current.length > 0) batches.push(current)
  return batches
}

interface RunResult {
  stdout: string
  stderr: string
  exitCode: number | undefined
  failed: boolean
  /** execa's short message: says e.g. ENOENT or timed out when there is no stderr. */
  message: string
}

async function run(name: SlurmCommandName, args: string[], options: SlurmCommandOptions, cwd?: string): Promise<RunResult> {
  const file = commandPath(name, options)
  // loaded at the first command: a job's task module that imports the library does not pay for it
  const { execa } = await import('execa')
  const r = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs ?? 60_000,
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    ...(cwd ? { cwd } : {}),
  })
  return {
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    exitCode: r.exitCode,
    failed: r.failed,
    message: r.failed ? ((r as { shortMessage?: string }).shortMessage ?? '') : '',
  }
}

function fail(name: SlurmCommandName, args: string[], options: SlurmCommandOptions, r: RunResult): never {
  throw new SlurmCommandError([commandPath(name, options), ...args], r.exitCode, r.stderr || r.message)
}

/**
 * Submit a script; returns the job id (for an array, the array job id).
 * extraArgs go before the script path (they override its #SBATCH lines).
 */
export async function sbatch(scriptPath: string, extraArgs: readonly string[] = [], cwd?: string, options: SlurmCommandOptions = {}): Promise<string> {
  const args = ['--parsable', ...extraArgs, scriptPath]
  const r = await run('sbatch', args, options, cwd)
  const command = [commandPath('sbatch', options), ...args]
  if (r.failed) {
    throw new FailedSubmissionError(command, r.exitCode, r.stderr || r.message)
  }
  const id = parseSbatchOutput(r.stdout)
  if (id === undefined)
    throw new FailedSubmissionError(command, r.exitCode, `could not read a job id from sbatch's output: ${JSON.stringify(r.stdout)}\n${r.stderr}`)
  return id
}

/**
 * The job id sbatch printed: --parsable's 'id' or 'id;cluster', or 'Submitted batch job id' (what a
 * site's wrapper that drops --parsable, or an older sbatch, prints; ' on cluster x' may follow).
 * Warnings and banners may come on other lines: the last line that is one of these wins.
 */
export function parseSbatchOutput(stdout: string): string | undefined {
  const lines = stdout.split(/\r?\n/)
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    const m = /^(\d+)(;\S+)?$/.exec(line) ?? /^Submitted batch job (\d+)(?: on cluster \S+)?\.?$/i.exec(line)
    if (m) return m[1]!
  }
  return undefined
}

async function perBatch(ids: readonly string[], options: SlurmCommandOptions, call: (joined: string) => Promise<string>): Promise<string> {
  const out: string[] = []
  for (const batch of batchIds(ids, options.maxIdsLength)) out.push(await call(batch.join(',')))
  return out.filter((s) => s.length > 0).join('\n')
}

/**
 * `sacct -X -n -P -o JobID,State,ExitCode,Reason -j ids`: raw text for parseSacct. The Reason of a
 * pending job says why it waits (sacct may show 'None' a while after squeue shows 'Resources', but
 * it has the reasons that matter, e.g. DependencyNeverSatisfied, PartitionNodeLimit). Throws
 * SlurmCommandError (e.g. accounting disabled).
 */
export function sacct(ids: readonly string[], options: SlurmCommandOptions = {}): Promise<string> {
  return sacctColumns('JobID,State,ExitCode,Reason', ids, options)
}

/** `sacct -X -n -P -o JobID,Start,End,NodeList,Submit -j ids`: raw text for parseSacctTimes (when and where jobs ran). */
export function sacctTimes(ids: readonly string[], options: SlurmCommandOptions = {}): Promise<string> {
  return sacctColumns('JobID,Start,End,NodeList,Submit', ids, options)
}

/** `sacct -X -n -P -o <columns> -j ids`, batched by length. */
async function sacctColumns(columns: string, ids: readonly string[], options: SlurmCommandOptions): Promise<string> {
  if (ids.length === 0) return ''
  return perBatch(ids, options, async (joined) => {
    const args = ['-X', '-n', '-P', '-o', columns, '-j', joined]
    const r = await run('sacct', args, options)
    if (r.failed) fail('sacct', args, options, r)
    return r.stdout.trim()
  })
}

/**
 * `squeue -h -t all -r -o '%i|%T|%r' -j ids`: raw text for parseSqueue.
 * Ids the controller no longer knows are simply missing ('Invalid job id specified' → empty).
 */
export async function squeue(ids: readonly string[], options: SlurmCommandOptions = {}): Promise<string> {
  if (ids.length === 0) return ''
  return perBatch(ids, options, async (joined) => {
    const args = ['-h', '-t', 'all', '-r', '-o', '%i|%T|%r', '-j', joined]
    const r = await run('squeue', args, options)
    if (r.failed) {
      if (r.exitCode === 1 && /Invalid job id specified/i.test(r.stderr)) return ''
      fail('squeue', args, options, r)
    }
    return r.stdout.trim()
  })
}

/** Cancel jobs (an array id cancels the whole array). Unknown ids are silently ignored by Slurm. */
export async function scancel(ids: readonly string[], options: SlurmCommandOptions = {}): Promise<void> {
  if (ids.length === 0) return
  // scancel takes ids as separate arguments, so batch on the summed length.
  for (const batch of batchIds(ids, options.maxIdsLength)) {
    const r = await run('scancel', batch, options)
    if (r.failed) fail('scancel', batch, options, r)
  }
}

/** `scontrol show config` text, for parseScontrolConfig. */
export async function scontrolShowConfig(options: SlurmCommandOptions = {}): Promise<string> {
  const args = ['show', 'config']
  const r = await run('scontrol', args, options)
  if (r.failed) fail('scontrol', args, options, r)
  return r.stdout
}

/** The CPUs of the partition (every partition when none is given): what can run at once. */
export async function sinfoCpus(partition: string | undefined, options: SlurmCommandOptions = {}): Promise<number> {
  const args = ['-h', '-o', '%C', ...(partition ? ['-p', partition] : [])]
  const r = await run('sinfo', args, options)
  if (r.failed) fail('sinfo', args, options, r)
  // allocated/idle/other/total, one line per partition
  let total = 0
  for (const line of r.stdout.split('\n')) total += Number(line.trim().split('/')[3]) || 0
  return total
}
