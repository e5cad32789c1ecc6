// The sbatch script for one job or one job array.
//
// Quoting rules, checked on the Slurm 22.05 cluster (docs/slurm-notes.md):
// - the script body is bash: every value is POSIX single-quoted (shellQuote);
// - '#SBATCH' lines are NOT bash: sbatch splits them itself, rejects a space
//   ("Invalid directive found") and a lone quote ("Unmatched `'`"). So a flag is
//   written there only when its value is plainly safe; any other flag, and always
//   --output/--error (they hold the folder), goes on the sbatch command line
//   (`sbatchArgs`, passed as argv, never through a shell);
// - -o/-e/srun --output expand '%' patterns: a literal '%' must be '%%';
// - a backslash anywhere in the path turns off all '%' expansion, and a job whose
//   path had one FAILED (0:53) at start: such folders are refused.

import { isAbsolute } from 'node:path'
import { sbatchFlags, slurmTimeSeconds, validateSlurmParameters, type SlurmParameters } from './params.js'

export interface ArraySpec {
  /** Number of tasks: --array=0-(size-1) */
  size: number
  /** At most this many at once (%P). Falls back to params.arrayParallelism. */
  parallelism?: number
}

export interface BatchScriptOptions {
  params: SlurmParameters
  /** Absolute folder for the logs. Any character but newline, NUL and backslash. */
  folder: string
  /**
   * The folder is already a Slurm filename pattern (e.g. '/logs/%A_%a', literal '%' written
   * '%%'): used as is instead of escaped. For folders that depend on the job id.
   */
  folderIsPattern?: boolean
  /** Omit for a single job. */
  array?: ArraySpec
  /** The worker command for each task, as argv (opaque here). */
  command: string[]
  /** Exported before the command runs. */
  env?: Record<string, string>
  /**
   * The job's folder depends on its ids: the script makes its folders itself, first thing (see
   * folderSetup). `folder` must then be the Slurm pattern of `template` (folderIsPattern).
   */
  makeFolders?: MakeFolders
  /**
   * Each array task runs a pack of elements (chunkSize), each with its own folder and logs, made
   * by the worker: the script and srun write to one log per pack, slurm-<A>_<a>.out in the part of
   * `template` that needs no id (a pack's id A_k is not element k's).
   */
  packed?: { template: string }
}

export interface MakeFolders {
  /** The folder template in submitit-ts's syntax (%j, %A, %a, %t, %% for a literal %), absolute. */
  template: string
  /** Tasks per job (a %t folder is made for each). */
  numTasks: number
}

export interface BatchScript {
  /** The script text, to be written to a file and given to sbatch. */
  script: string
  /** Flags for the sbatch command line (before the script path). */
  sbatchArgs: string[]
}

/** POSIX single-quoting: safe for any string in sh/bash, including quotes, '$', ';' and newlines. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(s)) return s
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/** Escape a literal path for Slurm's filename patterns (%j, %A, ...). */
export function escapeSlurmPattern(s: string): string {
  return s.replace(/%/g, '%%')
}

/**
 * What a job gets unless told otherwise, as submitit does: a name, one node, 5 minutes, SIGUSR2 90 s
 * before the time limit (so a task with a checkpoint is warned without any setting), and the wckey
 * 'submitit' (ignored by clusters that do not track wckeys; `additionalParameters: { wckey: false }`
 * drops it). Slurm's own defaults would be the partition's (often its MaxTime, i.e. no warning ever
 * comes in time).
 */
export const SBATCH_DEFAULTS = { jobName: 'submitit', nodes: 1, timeoutMin: 5, signalDelayS: 90, wckey: 'submitit' } as const satisfies SlurmParameters

/** Values sbatch reads from an '#SBATCH --flag=value' line exactly as written. */
const SBATCH_LINE_SAFE = /^--[a-z0-9-]+(=[A-Za-z0-9_.,:@%+/=[\]-]*)?$/

/** The log file name pattern (Slurm '%' codes) inside the folder, for the sbatch and srun level. */
export function logPattern(folder: string, isArray: boolean, kind: 'out' | 'err', folderIsPattern = false): string {
  const id = isArray ? '%A_%a' : '%j'
  const dir = folder.replace(/\/+$/, '')
  return `${folderIsPattern ? dir : escapeSlurmPattern(dir)}/${id}_%t_log.${kind}`
}

/**
 * The part of a folder template before its first id code (%j, %A, %a, %t), as whole directories:
 * '/logs/run_%j/x' → '/logs'. It exists before sbatch (the executor makes it), so Slurm's own log
 * of a job whose folder depends on its ids goes there. Literal '%%' are kept as written.
 */
export function staticPrefix(template: string): string {
  const parts = template.split('/')
  const kept: string[] = []
  for (const part of parts) {
    if (/%[jAat]/.test(part.replace(/%%/g, ''))) break
    kept.push(part)
  }
  return kept.join('/') || '/'
}

/**
 * A folder template (%j, %A, %a, %t, %%) as one bash word that the batch shell expands with Slurm's
 * ids: literal parts single-quoted, ids as "${SLURM_...}". %t is the given task rank.
 */
export function templateWord(template: string, isArray: boolean, task: number): string {
  const ids: Record<string, string> = isArray
    ? { j: '"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"', A: '"${SLURM_ARRAY_JOB_ID}"', a: '"${SLURM_ARRAY_TASK_ID}"' }
    : { j: '"${SLURM_JOB_ID}"', A: '"${SLURM_JOB_ID}"', a: "''" }
  ids.t = String(task)
  let word = ''
  let literal = ''
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!
    const k = template[i + 1] ?? ''
    if (c === '%' && (k === '%' || ids[k] !== undefined)) {
      i++
      if (k === '%') {
        literal += '%'
        continue
      }
      if (literal) word += shellQuote(literal)
      literal = ''
      word += ids[k]
    } else {
      literal += c
    }
  }
  if (literal) word += shellQuote(literal)
  return word || "''"
}

/**
 * Lines that make the job's folders and send the batch shell's own output to task 0's logs.
 *
 * Why: a folder that depends on the job id cannot exist before sbatch answers, and Slurm neither
 * creates it nor waits: it opens the job's log before the script runs. Holding the job (--hold)
 * until the submitting process has made the folders turned a request Slurm cannot satisfy into a
 * job pending forever (a held job's request is only checked when it is released: --mem too large
 * became BadConstraints at the next scheduling pass, --cpus-per-task too large made `scontrol
 * release` fail). Without a hold, sbatch checks the request exactly as for a flat folder. So Slurm's
 * own log (-o/-e) goes to slurm-<id>.out in the part of the folder that needs no id (made at
 * submit), and the script, first thing, makes the job's folders and appends its own output to task
 * 0's logs, where srun's per-task logs also go. What slurmstepd itself writes (e.g. "*** JOB 12
 * CANCELLED ... DUE TO TIME LIMIT ***") stays in slurm-<id>.out; srun's tasks get the step's message
 * in their own logs.
 */
function folderSetup(make: MakeFolders, isArray: boolean, stderrToStdout: boolean): string[] {
  const dirs = Array.from({ length: Math.max(1, make.numTasks) }, (_, t) => templateWord(make.template, isArray, t))
  const unique = [...new Set(dirs)]
  const id = isArray ? '"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"' : '"${SLURM_JOB_ID}"'
  const log = (kind: string) => `${dirs[0]}/${id}_0_log.${kind}`
  return [
    "# the job's folders: Slurm makes none, and has opened its own log (slurm-<id>.out, where the",
    "# folder needs no id) before this runs; the shell's own output goes to task 0's logs",
    `(umask 077 && mkdir -p -- ${unique.join(' ')}) || exit 1`,
    `exec >>${log('out')} 2>>${stderrToStdout ? log('out') : log('err')}`,
  ]
}

/**
 * What the worker needs to tell a time limit from a preemption when warned (worker/requeue.ts): when
 * this run started (the batch shell starts again at each requeue), the time limit and the warning's
 * delay as they are in the final flags (additionalParameters may have set them), the requeues allowed.
 */
function requeueEnv(flags: string[], maxNumTimeout: number): string[] {
  const last = (name: string) =>
    flags
      .filter((f) => f.startsWith(`--${name}=`))
      .pop()
      ?.slice(name.length + 3)
  const time = last('time')
  const limit = time === undefined ? undefined : slurmTimeSeconds(time)
  const delay = /@(\d+)$/.exec(last('signal') ?? '')?.[1]
  return [
    '# what the worker needs to tell a time limit from a preemption, and when this run started',
    'export SUBMITIT_JOB_START="$(date +%s)"',
    ...(limit === undefined ? [] : [`export SUBMITIT_TIME_LIMIT_S=${limit}`]),
    ...(delay === undefined ? [] : [`export SUBMITIT_SIGNAL_DELAY_S=${delay}`]),
    `export SUBMITIT_MAX_NUM_TIMEOUT=${maxNumTimeout}`,
  ]
}

function checkFolder(folder: string): void {
  if (!isAbsolute(folder)) throw new Error(`The log folder must be an absolute path, got ${JSON.stringify(folder)}`)
  if (/[\n\r\0]/.test(folder)) throw new Error(`The log folder must not contain a newline or NUL: ${JSON.stringify(folder)}`)
  if (folder.includes('\\')) {
    throw new Error(`The log folder must not contain a backslash (Slurm then ignores %j/%A/%a in log names and the job fails): ${JSON.stringify(folder)}`)
  }
}

function arrayFlag(array: ArraySpec, params: SlurmParameters): string {
  if (!Number.isInteger(array.size) || array.size < 1) throw new Error(`array.size must be a positive integer, got ${array.size}`)
  const parallelism = array.parallelism ?? params.arrayParallelism
  if (parallelism !== undefined && (!Number.isInteger(parallelism) || parallelism < 1)) {
    throw new Error(`array parallelism must be a positive integer, got ${parallelism}`)
  }
  return `--array=0-${array.size - 1}${parallelism === undefined ? '' : `%${parallelism}`}`
}

/**
 * Signals as Slurm sends them (docs/slurm-notes.md, "Signals"). The batch shell may get SIGUSR2
 * (--signal=B:..., `scancel --signal=USR2 --batch`): bash would die of it (the job FAILED 0:12), so
 * it is trapped and passed on to the worker (through srun, which forwards it to its tasks). SIGTERM
 * (a preemption, `scancel --signal=TERM --batch`, the end of the job) would end the shell, and the
 * job with it, before the worker has written its checkpoint: it is logged, and passed on to a worker
 * run without srun; never to srun, which on SIGTERM kills its step at once ("forcing job
 * termination"). The traps are set first thing, before any setup line runs.
 */
function signalTraps(useSrun: boolean): string[] {
  return [
    '# signals: SIGUSR2 goes on to the worker; SIGTERM does not end this shell (the worker decides)',
    'SUBMITIT_CHILD=',
    `trap '[ -n "$SUBMITIT_CHILD" ] && kill -s USR2 "$SUBMITIT_CHILD" 2>/dev/null' USR2`,
    `trap 'echo "submitit-ts batch: SIGTERM at $(date +%FT%T), waiting for the worker" >&2${useSrun ? '' : '; [ -n "$SUBMITIT_CHILD" ] && kill -s TERM "$SUBMITIT_CHILD" 2>/dev/null'}' TERM`,
  ]
}

/**
 * Runs the worker (or srun) in the background, since bash runs a trap only between commands and a
 * foreground child would delay it until its end, then waits until it really exited: `wait` returns
 * early (status > 128) when a trapped signal comes, and a last `wait` gives the real status.
 *
 * A worker that died of SIGUSR2 (status 140, srun's too) had not installed its handler yet: node
 * resets the signal's action at start (an inherited SIG_IGN or blocked mask does not survive), and
 * under load its start-up outlasted a short job's warning delay (seen at ~20 s on 2 busy cores). Its
 * task had not started (the handler comes first), so it runs again, once, told when the warning came
 * (SUBMITIT_WARNED_AT): the warning is acted on instead of the job ending FAILED.
 */
function backgroundRun(command: string): string[] {
  return [
    'submitit_run() {',
    `  ${command} &`,
    '  SUBMITIT_CHILD=$!',
    '  while :; do',
    '    wait "$SUBMITIT_CHILD"; SUBMITIT_RC=$?',
    '    kill -0 "$SUBMITIT_CHILD" 2>/dev/null && continue',
    '    if [ "$SUBMITIT_RC" -gt 128 ]; then wait "$SUBMITIT_CHILD" 2>/dev/null; SUBMITIT_LAST=$?; [ "$SUBMITIT_LAST" -ne 127 ] && SUBMITIT_RC=$SUBMITIT_LAST; fi',
    '    break',
    '  done',
    '}',
    'submitit_run',
    'if [ "$SUBMITIT_RC" -eq 140 ]; then',
    '  export SUBMITIT_WARNED_AT="$(date +%s)"',
    '  echo "submitit-ts batch: the worker died of a SIGUSR2 that came before its handler (while it started): it runs again and acts on the warning" >&2',
    '  submitit_run',
    'fi',
  ]
}

/**
 * The setup lines, each run in this shell (what it exports and where it cds, the worker sees) and
 * checked: a line that fails ends the job before the worker runs, saying which line and its status on
 * the shell's stderr (task 0's log), as the LocalExecutor's setup does. Without the check the task ran
 * after a failed `source .venv/bin/activate`, in the wrong environment.
 */
function setupLines(setup: readonly string[]): string[] {
  const out = ['# setup: a line that fails ends the job (the worker does not run), naming the line']
  setup.forEach((line, i) => {
    const what = shellQuote(`submitit-ts batch: setup line ${i + 1} of ${setup.length}, ${JSON.stringify(line)}, exited with status`)
    out.push(`eval ${shellQuote(line)} </dev/null || { SUBMITIT_RC=$?; echo ${what} "$SUBMITIT_RC: the job does not run" >&2; exit "$SUBMITIT_RC"; }`)
  })
  return out
}

export function makeBatchScript(opts: BatchScriptOptions): BatchScript {
  const params = validateSlurmParameters(opts.params)
  checkFolder(opts.folder)
  if (opts.command.length === 0) throw new Error('The command must have at least one element')
  const isArray = opts.array !== undefined
  const useSrun = params.useSrun ?? true
  // Slurm's own log: in the job's folder, or beside it when that folder needs the job's id (folderSetup)
  const outside = opts.packed?.template ?? opts.makeFolders?.template
  const slurmLog = outside && `${escapeSlurmPattern(staticPrefix(outside).replace(/%%/g, '%')).replace(/\/+$/, '')}/slurm-${isArray ? '%A_%a' : '%j'}.out`
  const out = opts.packed ? slurmLog! : logPattern(opts.folder, isArray, 'out', opts.folderIsPattern)
  const err = params.stderrToStdout || opts.packed ? out : logPattern(opts.folder, isArray, 'err', opts.folderIsPattern)

  const flags = [...(opts.array ? [arrayFlag(opts.array, params)] : []), ...sbatchFlags({ ...SBATCH_DEFAULTS, ...params })]
  const lines = ['#!/bin/bash', '', '# Parameters']
  // append: a requeued job (checkpoint, preemption) keeps the logs of its earlier runs
  const sbatchArgs = [`--output=${slurmLog ?? out}`, `--error=${slurmLog ?? err}`, '--open-mode=append']
  for (const flag of flags) {
    if (SBATCH_LINE_SAFE.test(flag)) lines.push(`#SBATCH ${flag}`)
    else sbatchArgs.push(flag)
  }
  if (sbatchArgs.length > 3) lines.push('# (more flags, whose values #SBATCH lines cannot hold, are on the sbatch command line)')
  lines.push('', ...signalTraps(useSrun))
  lines.push('', ...requeueEnv(flags, params.maxNumTimeout ?? 3))
  if (opts.makeFolders && !opts.packed) lines.push('', ...folderSetup(opts.makeFolders, isArray, params.stderrToStdout ?? false))

  if (params.setup?.length) lines.push('', ...setupLines(params.setup))

  const env = Object.entries(opts.env ?? {})
  if (env.length) {
    lines.push('', '# environment')
    for (const [name, value] of env) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Invalid environment variable name ${JSON.stringify(name)}`)
      lines.push(`export ${name}=${shellQuote(value)}`)
    }
  }

  const argv = opts.command.map(shellQuote).join(' ')
  lines.push('', '# command')
  if (useSrun) {
    // append: task 0's log is also the batch shell's log (setup lines); srun's default
    // truncate mode wiped them on the cluster.
    const srun = ['srun', '--unbuffered', '--open-mode=append', `--output=${out}`, `--error=${err}`, ...(params.srunArgs ?? [])]
    lines.push(...backgroundRun(`${srun.map(shellQuote).join(' ')} ${argv}`))
  } else {
    // the end-of-job warning goes to the batch shell here (--signal=B:USR2@N, on by default)
    lines.push(...backgroundRun(argv))
  }

  if (params.teardown?.length) lines.push('', '# teardown', ...params.teardown)
  lines.push('', 'exit "$SUBMITIT_RC"', '')
  return { script: lines.join('\n'), sbatchArgs }
}
