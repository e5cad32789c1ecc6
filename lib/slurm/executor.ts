// SlurmExecutor: every submit/mapArray/batch becomes one sbatch (a job array for arrays, split when
// larger than the cluster's MaxArraySize), whose batch script runs the same worker entrypoint over
// the same files as the LocalExecutor. One shared watcher polls the scheduler for every job.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ParameterError } from '../core/errors.js'
import { Executor, type PreparedArray } from '../core/executor.js'
import { encodeRecord, makeFolder, readCheckpoint, readResult, readSubmission, writeAtomic, type SubmissionRecord } from '../core/format.js'
import { Job } from '../core/job.js'
import { arrayFolder, JobPaths, makeJobId, submissionScriptPath, submittedPath } from '../core/paths.js'
import { batchIds, commandPath, sbatch, scancel, scontrolShowConfig, sinfoCpus, type SlurmCommandOptions } from './commands.js'
import { SlurmJobWatcher } from './job-watcher.js'
import { SLURM_PARAMETER_NAMES, SLURM_PARAMETERS, type SlurmParameters } from './params.js'
import { maxArraySize, parseScontrolConfig } from './parse.js'
import { makeBatchScript, staticPrefix } from './script.js'
import { getSharedWatcher, SlurmWatcher } from './watcher.js'

const WORKER_MAIN = fileURLToPath(new URL('../../worker/main.js', import.meta.url))

/** chunkSize 'auto' when sinfo cannot tell the partition's CPUs: this many packs (Slurm array tasks). */
export const AUTO_PACKS = 64

export interface SlurmExecutorOptions extends SlurmParameters {
  folder: string
  /** where sbatch, sacct... are (tests use fakes); default: the PATH */
  commands?: SlurmCommandOptions
  /**
   * scancel this executor's unfinished jobs when the process exits, also on Ctrl-C (SIGINT),
   * SIGTERM and SIGHUP; the process then still dies of the signal (exit status 130, 143, 129), unless
   * it has its own handler for it, which then decides
   */
  cancelAtExit?: boolean
  /** the largest array sbatch takes; default: MaxArraySize from `scontrol show config` */
  maxArraySize?: number
  /**
   * the longest time between two looks at the scheduler (one sacct for every job of the process),
   * default 5,000 ms; the watcher is shared, so the shortest asked by any executor applies
   */
  maxPollIntervalMs?: number
}

/** The executors with cancelAtExit, and the process hooks that cancel their jobs (one set of hooks). */
const cancelAtExit = new Set<SlurmExecutor>()
const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

function cancelEverywhere(): void {
  for (const ex of cancelAtExit) ex.cancelUnfinishedSync()
}

/**
 * A signal that would kill the process: cancel the jobs first. If no one else listens to it, the
 * default action is what the user expects (the process dies of the signal: 130 for Ctrl-C in a
 * shell): our handler steps aside and the signal is raised again. With a handler of the user's, the
 * jobs are cancelled and that handler decides what happens next.
 */
function onExitSignal(signal: NodeJS.Signals): void {
  cancelEverywhere()
  if (process.listenerCount(signal) - 1 - signalExitListeners() > 0) return
  uninstallExitHooks()
  process.kill(process.pid, signal)
}

/**
 * The signal listeners of the signal-exit package (execa, many CLIs and test runners load it), per
 * signal. It too only acts when no one else listens, so each would wait for the other and the
 * process would survive its Ctrl-C: its listeners are not counted as the user's.
 */
function signalExitListeners(): number {
  const v4 = (globalThis as Record<symbol, { count?: unknown } | undefined>)[Symbol.for('signal-exit emitter')]?.count
  const v3 = (process as { __signal_exit_emitter__?: { count?: unknown } }).__signal_exit_emitter__?.count
  return (typeof v4 === 'number' ? v4 : 0) + (typeof v3 === 'number' ? v3 : 0)
}

function installExitHooks(): void {
  process.on('exit', cancelEverywhere)
  for (const s of EXIT_SIGNALS) process.on(s, onExitSignal)
}

function uninstallExitHooks(): void {
  process.off('exit', cancelEverywhere)
  for (const s of EXIT_SIGNALS) process.off(s, onExitSignal)
}

/** Our folder template as a Slurm filename pattern: literal % doubled, %j is A_a in an array. */
export function slurmFolderPattern(template: string, isArray: boolean): string {
  return template.replace(/%([jAat%]?)/g, (_, k: string) => (k === 'j' ? (isArray ? '%A_%a' : '%j') : k === 'A' || k === 'a' || k === 't' ? `%${k}` : '%%'))
}

/** Does the folder depend on the job's ids (so it can only be made once sbatch has answered)? */
function isTemplated(template: string): boolean {
  return /%[jAat]/.test(template.replace(/%%/g, ''))
}

export class SlurmExecutor extends Executor<SlurmParameters> {
  protected readonly parameterNames = SLURM_PARAMETER_NAMES
  protected override readonly parameterSchema = SLURM_PARAMETERS
  private readonly commands: SlurmCommandOptions
  private readonly watcher: SlurmJobWatcher
  private maxArray: number | undefined
  /** the jobs to cancel at exit (cancelAtExit only) */
  private readonly submitted = new Set<string>()
  private readonly cancelsAtExit: boolean

  constructor(options: SlurmExecutorOptions) {
    const { folder, commands, cancelAtExit: cancels, maxArraySize: max, maxPollIntervalMs, ...params } = options
    super(folder, {}, 'slurm')
    this.commands = commands ?? {}
    this.maxArray = max
    // one watcher for the process; an executor with its own commands (tests, fakes) gets its own
    const watcher = commands ? new SlurmWatcher({ commands }) : getSharedWatcher()
    if (maxPollIntervalMs !== undefined) {
      try {
        watcher.pollAtLeastEvery(maxPollIntervalMs)
      } catch (e) {
        throw new ParameterError((e as Error).message)
      }
    }
    this.watcher = new SlurmJobWatcher(watcher, this.commands, true)
    this.updateParameters(params)
    this.cancelsAtExit = cancels === true
    if (this.cancelsAtExit) {
      if (cancelAtExit.size === 0) installExitHooks()
      cancelAtExit.add(this)
    }
  }

  /** MaxArraySize from the cluster's configuration, asked once (arrays hold indices 0..Max-1). */
  private async arrayLimit(): Promise<number> {
    if (this.maxArray === undefined) {
      try {
        this.maxArray = maxArraySize(parseScontrolConfig(await scontrolShowConfig(this.commands)))
      } catch {
        this.maxArray = 1001 // Slurm's default
      }
    }
    return this.maxArray
  }

  protected async submitPrepared(prepared: PreparedArray, isArray: boolean): Promise<Job<unknown>[]> {
    // refused before sbatch when over maxSubmissionSizeGb (the record is written once the id is known)
    this.checkSubmissionSize(encodeRecord({ ...prepared, arrayId: '0', isArray, backend: 'slurm', folder: this.folder }).byteLength, prepared.args.length)
    const size = prepared.args.length
    const pack = isArray ? await this.packSize(size) : 1
    // an array task runs `pack` elements: an sbatch array holds `limit` tasks
    const limit = isArray ? (await this.arrayLimit()) * pack : 1
    const jobs: Job<unknown>[] = []
    const arrays: string[] = []
    if (size > limit && this.params.arrayParallelism !== undefined) this.ownDependency() // throws before anything is submitted
    // an array larger than the cluster takes goes as several arrays, in order
    for (let start = 0; start < size; start += limit) {
      const end = Math.min(size, start + limit)
      let part: PreparedArray =
        start === 0 && end === size ? prepared : { ...prepared, fnIndex: prepared.fnIndex.slice(start, end), args: prepared.args.slice(start, end) }
      if (pack > 1) part = { ...part, params: { ...part.params, pack } }
      try {
        const made = await this.submitOne(part, isArray, this.chained(arrays.at(-1)))
        jobs.push(...made)
        arrays.push(made[0]!.paths.arrayId)
      } catch (e) {
        // all or nothing: the parts already submitted would run with no one to get their results
        await scancel(arrays, this.commands).catch(() => {})
        throw e
      }
    }
    return jobs
  }

  /**
   * The Slurm job that runs `job`: its own id, or with chunkSize the array task of its pack
   * (element A_i of packs of n runs in A_⌊i/n⌋), as squeue, sacct and scancel know it.
   */
  slurmJobIdOf(job: Job<unknown>): string {
    return this.watcher.slurmId(job)
  }

  /**
   * Elements per Slurm array task (chunkSize): 1 unless asked. 'auto' makes as many packs as can run
   * at once — the partition's CPUs over cpusPerTask (sinfo), at most arrayParallelism; AUTO_PACKS when
   * sinfo cannot tell — so that each pack starts once, and says what it chose.
   */
  private async packSize(size: number): Promise<number> {
    const asked = this.params.chunkSize
    if (asked === undefined || asked === 1) return 1
    if (asked !== 'auto') return Math.min(asked, size)
    let slots = AUTO_PACKS
    let why = `${AUTO_PACKS} (sinfo could not tell the partition's CPUs)`
    try {
      const cpus = await sinfoCpus(this.params.partition, this.commands)
      if (cpus > 0) {
        slots = Math.max(1, Math.floor(cpus / (this.params.cpusPerTask ?? 1)))
        why = `${cpus} CPUs / ${this.params.cpusPerTask ?? 1} per task`
      }
    } catch {
      /* AUTO_PACKS */
    }
    if (this.params.arrayParallelism !== undefined && this.params.arrayParallelism < slots) {
      slots = this.params.arrayParallelism
      why = `arrayParallelism ${slots}`
    }
    const pack = Math.ceil(size / Math.min(size, slots))
    process.stderr.write(`submitit-ts: chunkSize 'auto': ${size} elements in ${Math.ceil(size / pack)} Slurm array task(s) of up to ${pack} (slots: ${why})\n`)
    return pack
  }

  /**
   * The parameters of the next part of a split array. `arrayParallelism` is the user's limit over
   * the whole mapArray, but Slurm's %P limits each array on its own: with 3 parts, 3 × P would run
   * at once. So when a parallelism is set, each part waits for the whole previous one
   * (--dependency=afterany:<previous array>): never more than P at once, at the cost of some idle
   * slots while the last P - 1 elements of a part run (submitting the next part as the previous one
   * drains would keep them busy, but only while this process lives; the dependency holds even if
   * it exits). The user's own dependency is kept on every part (ANDed with ',').
   */
  private chained(previous: string | undefined): SlurmParameters {
    const params = this.params
    if (previous === undefined || params.arrayParallelism === undefined) return params
    const extra = params.additionalParameters ?? {}
    const own = this.ownDependency()
    const dependency = own === undefined || own === false || own === '' ? `afterany:${previous}` : `${String(own)},afterany:${previous}`
    return { ...params, additionalParameters: { ...extra, dependency } }
  }

  /** The user's dependency, checked to be one the chaining of parts can AND with. */
  private ownDependency(): string | number | boolean | undefined {
    const own = this.params.additionalParameters?.dependency ?? this.params.dependency
    if (typeof own === 'string' && own.includes('?')) {
      throw new ParameterError(
        `dependency ${JSON.stringify(own)} (any of, '?') cannot be combined with the afterany that chains the parts of an array larger than MaxArraySize when arrayParallelism is set: split the array yourself, or use ',' (all of)`,
      )
    }
    return own
  }

  private async submitOne(part: PreparedArray, isArray: boolean, params: SlurmParameters = this.params): Promise<Job<unknown>[]> {
    const n = part.args.length
    const pack = part.params.pack ?? 1
    const templated = isTemplated(this.folder)
    const { script, sbatchArgs } = makeBatchScript({
      params,
      folder: slurmFolderPattern(this.folder, isArray),
      folderIsPattern: true,
      array: isArray ? { size: Math.ceil(n / pack), parallelism: params.arrayParallelism } : undefined,
      // a folder with ids cannot exist before sbatch answers: the script makes it (see folderSetup)
      makeFolders: templated ? { template: this.folder, numTasks: part.params.tasksPerNode * part.params.nodes } : undefined,
      // a pack's elements have their own folders and logs (the worker makes them); the pack, one log
      packed: pack > 1 ? { template: this.folder } : undefined,
      command: [process.execPath, WORKER_MAIN, this.folder],
      // the worker runs only the submission with this nonce, not one an older job with the same id left
      env: { SUBMITIT_NONCE: part.nonce, ...(pack > 1 ? { SUBMITIT_PACK: String(pack) } : {}) },
    })
    // the script's final name needs the job id: write it aside, sbatch copies it at submission
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'submitit-ts-'))
    const scriptFile = path.join(staging, 'submission.sh')
    fs.writeFileSync(scriptFile, script, { mode: 0o700 })
    let arrayId: string
    try {
      // a folder with ids is made by the job itself; Slurm's own log goes where it needs none
      const base = templated ? staticPrefix(this.folder).replace(/%%/g, '%') : this.folder
      makeFolder(base)
      arrayId = await sbatch(scriptFile, sbatchArgs, base, this.commands)
    } catch (e) {
      fs.rmSync(staging, { recursive: true, force: true })
      throw e
    }
    try {
      return this.finishSubmission(part, isArray, arrayId, scriptFile)
    } catch (e) {
      // the job exists but cannot run as it should (its submission file could not be written):
      // cancel it rather than leave its worker to wait for the file and fail
      await scancel([arrayId], this.commands).catch(() => {})
      throw e
    } finally {
      fs.rmSync(staging, { recursive: true, force: true })
    }
  }

  /** Writes what the job needs now that its id is known, and makes its jobs. */
  private finishSubmission(part: PreparedArray, isArray: boolean, arrayId: string, scriptFile: string): Job<unknown>[] {
    const n = part.args.length
    const numTasks = part.params.tasksPerNode * part.params.nodes
    const record: SubmissionRecord = { ...part, arrayId, isArray, backend: 'slurm', folder: this.folder }
    makeFolder(arrayFolder(this.folder, arrayId, isArray))
    // before the submission is written: until then the new job's worker waits and writes nothing
    moveStaleFiles(this.folder, arrayId, isArray, n, numTasks, record.nonce)
    writeAtomic(submittedPath(this.folder, arrayId, isArray), encodeRecord(record))
    // a copy, not a rename: the staging folder (os.tmpdir()) is often on another file system than
    // the job folder on a cluster (a local /tmp, a shared /home), where a rename fails with EXDEV
    fs.copyFileSync(scriptFile, submissionScriptPath(this.folder, arrayId, isArray))

    const jobs: Job<unknown>[] = new Array(n)
    const pack = part.params.pack ?? 1
    if (pack > 1) this.watcher.packed(arrayId, pack, n)
    for (let i = 0; i < n; i++) {
      const index = isArray ? i : null
      const paths = new JobPaths(this.folder, makeJobId(arrayId, index), { arrayId, index })
      jobs[i] = new Job(paths, numTasks, this.watcher, record.nonce)
      this.watcher.claim(jobs[i])
      if (this.cancelsAtExit) this.submitted.add(this.watcher.slurmId(jobs[i]))
    }
    return jobs
  }

  /** Cancels every job this executor submitted that has not ended (cancelAtExit: at exit, on a signal). */
  cancelUnfinishedSync(): void {
    const open = [...this.submitted].filter((id) => !this.watcher.isFinal(id))
    this.submitted.clear()
    // at exit only synchronous work runs; best effort, the process is ending
    for (const ids of batchIds(open, this.commands.maxIdsLength)) {
      spawnSync(commandPath('scancel', this.commands), ids, { env: this.commands.env ?? process.env, stdio: 'ignore', timeout: 10_000 })
    }
  }

  async shutdown(): Promise<void> {
    if (cancelAtExit.delete(this) && cancelAtExit.size === 0) uninstallExitHooks()
  }
}

/** The nonce of a record file, or undefined when it cannot be read (an older submitit-ts's, damaged). */
function nonceOf(file: string): string | undefined {
  try {
    if (file.endsWith('_submitted.v8')) return readSubmission(file).nonce
    if (file.endsWith('_checkpoint.v8')) return readCheckpoint(file).nonce
    if (file.endsWith('_requeues.json')) return String(JSON.parse(fs.readFileSync(file, 'utf8')).nonce)
    return readResult(file).nonce
  } catch {
    return undefined
  }
}

/**
 * Slurm reuses job ids once its state is reset (ids restart at 1): the folder may hold the files of
 * an older job with this id. They are never read as the new job's (each record carries the nonce of
 * its submission and readers check it), but they are moved aside, renamed `<name>.stale-<old nonce>`,
 * so that no one takes them for the new job's. Only files whose nonce is not `nonce` are moved: the
 * submission, results, checkpoints and requeue counts, and the old batch script and rerun links. Log files carry no nonce and the new
 * job may already be writing to them (Slurm appends to an existing log), so they stay where they are.
 * Detected through the old submission file: without one there is nothing to do (one stat).
 */
export function moveStaleFiles(template: string, arrayId: string, isArray: boolean, n: number, numTasks: number, nonce: string): void {
  const submitted = submittedPath(template, arrayId, isArray)
  if (!fs.existsSync(submitted)) return
  const old = nonceOf(submitted)
  if (old === nonce) return
  const tag = `.stale-${old?.slice(0, 8) ?? 'unreadable'}`
  const dirs = new Set([path.dirname(submitted)])
  for (let i = 0; i < n; i++) {
    const index = isArray ? i : null
    const paths = new JobPaths(template, makeJobId(arrayId, index), { arrayId, index })
    dirs.add(path.dirname(paths.checkpoint))
    for (let t = 0; t < numTasks; t++) dirs.add(path.dirname(paths.resultFile(t)))
  }
  const records = /_((result|checkpoint|submitted)\.v8|requeues\.json)$/
  for (const dir of dirs) {
    let names: string[]
    try {
      names = fs.readdirSync(dir)
    } catch {
      continue
    }
    for (const name of names) {
      if (!name.startsWith(`${arrayId}_`)) continue
      const file = path.join(dir, name)
      // the batch script and the rerun links carry no nonce of their own: with another submission there, they are its
      const stale = records.test(name) ? nonceOf(file) !== nonce : name === `${arrayId}_submission.sh` || name === `${arrayId}_rerun.json`
      if (stale) {
        try {
          fs.renameSync(file, file + tag)
        } catch {
          /* gone meanwhile: fine */
        }
      }
    }
  }
}
