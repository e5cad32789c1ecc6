// rerun(jobs): the same task with the same arguments, again, on the same backend and folder, as one
// new array per old submission. The new submission is built from the old one (its encoded arguments
// are reused as they are); the new job ids are recorded next to the old ones (<A>_rerun.json).
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { getBackend } from './backends.js'
import { BackendError } from './errors.js'
import type { Executor, PreparedArray } from './executor.js'
import { FORMAT_VERSION, readSubmission, writeAtomic, type SubmissionRecord } from './format.js'
import type { Job } from './job.js'
import { currentOwner } from './owner.js'
import { arrayFolder } from './paths.js'

export interface RerunOptions {
  /** where the scheduler's commands are (Slurm: sbatch & co.; tests use fakes), given to the backend's createExecutor */
  commands?: unknown
}

/**
 * What `<A>_rerun.json` holds: each rerun of jobs of array A, old job id → new job id, and the nonce
 * of A's submission (absent in files of older versions): a Slurm id is given again once its state is
 * reset, and the links of an older array A are not the new A's.
 */
export interface RerunLinks {
  nonce?: string
  reruns: { at: string; arrayId: string; jobs: Record<string, string> }[]
}

export function rerunFile(record: Pick<SubmissionRecord, 'folder' | 'arrayId' | 'isArray'>): string {
  return path.join(arrayFolder(record.folder, record.arrayId, record.isArray), `${record.arrayId}_rerun.json`)
}

/** The reruns of the record's jobs; none when the file is another submission's (a reused id). */
export function readReruns(record: Pick<SubmissionRecord, 'folder' | 'arrayId' | 'isArray' | 'nonce'>): RerunLinks | undefined {
  try {
    const links = JSON.parse(fs.readFileSync(rerunFile(record), 'utf8')) as RerunLinks
    return links.nonce === undefined || links.nonce === record.nonce ? links : undefined
  } catch {
    return undefined
  }
}

/** The latest rerun of each job: old job id → new job id. */
export function rerunMap(links: RerunLinks | undefined): Map<string, string> {
  const map = new Map<string, string>()
  for (const r of links?.reruns ?? []) for (const [from, to] of Object.entries(r.jobs)) map.set(from, to)
  return map
}

/**
 * Submits `jobs` again: same tasks, same arguments, same backend and folder, with the old
 * submission's parameters changed by `params` (e.g. `{ timeoutMin: 30 }`). Jobs of one submission
 * become one new array; the new jobs come back in the order given. On Slurm, the old batch
 * script's partition, account, qos, constraint, job name, CPUs, GPUs and memory are kept.
 */
export async function rerun(jobs: readonly Job<unknown>[], params: Record<string, unknown> = {}, options: RerunOptions = {}): Promise<Job<unknown>[]> {
  const groups = new Map<string, { record: SubmissionRecord; at: number[]; indices: number[] }>()
  jobs.forEach((job, at) => {
    const file = job.paths.submitted
    let group = groups.get(file)
    if (!group) {
      const record = readSubmission(file)
      if (record.nonce !== job.nonce) throw new Error(`${file} now holds another submission than job ${job.jobId}'s (its id was reused): it cannot be rerun`)
      group = { record, at: [], indices: [] }
      groups.set(file, group)
    }
    group.at.push(at)
    group.indices.push(job.paths.index ?? 0)
  })
  const result = new Array<Job<unknown>>(jobs.length)
  for (const { record, at, indices } of groups.values()) {
    const executor = executorFor(record, params, options)
    const prepared: PreparedArray = {
      format: 'submitit-ts/submission',
      version: FORMAT_VERSION,
      node: process.version,
      nonce: randomUUID(),
      params: (executor as unknown as { workerParameters(): SubmissionRecord['params'] }).workerParameters(),
      owner: currentOwner(),
      ...usedTasks(record, indices),
      args: indices.map((i) => record.args[i]),
      marked: record.marked,
    }
    // the executor's own path for a prepared submission: ids, files, scheduling as for any other
    const submitted = await (executor as unknown as { submitPrepared(p: PreparedArray, isArray: boolean): Promise<Job<unknown>[]> }).submitPrepared(
      prepared,
      record.isArray || indices.length > 1,
    )
    const links: Record<string, string> = {}
    submitted.forEach((job, k) => {
      result[at[k]] = job
      links[jobs[at[k]].jobId] = job.jobId
    })
    const old = readReruns(record) ?? { reruns: [] }
    old.nonce = record.nonce
    old.reruns.push({ at: new Date().toISOString(), arrayId: submitted[0].paths.arrayId, jobs: links })
    writeAtomic(rerunFile(record), Buffer.from(`${JSON.stringify(old, null, 1)}\n`))
  }
  return result
}

/** The tasks the chosen elements run, and each element's index among them. */
function usedTasks(record: SubmissionRecord, indices: number[]): Pick<SubmissionRecord, 'fns' | 'fnIndex'> {
  const renumber = new Map<number, number>()
  const fns: SubmissionRecord['fns'] = []
  const fnIndex = indices.map((i) => {
    const old = record.fnIndex[i]
    let k = renumber.get(old)
    if (k === undefined) renumber.set(old, (k = fns.push(record.fns[old]) - 1))
    return k
  })
  return { fns, fnIndex }
}

/** An executor of the record's backend (from the registry) on its folder, with its parameters, then `params`. */
function executorFor(record: SubmissionRecord, params: Record<string, unknown>, options: RerunOptions): Executor<object> {
  const backend = getBackend(record.backend)
  if (!backend) {
    throw new BackendError(`cannot rerun jobs of array ${record.arrayId}: its backend "${record.backend}" is not registered in this process (registerBackend)`)
  }
  const { timeoutMin, tasksPerNode, nodes, stderrToStdout } = record.params
  const base: Record<string, unknown> = { tasksPerNode, nodes, ...backend.parametersOf?.(record) }
  if (stderrToStdout) base.stderrToStdout = true
  const executor = backend.createExecutor({ folder: record.folder, commands: options.commands })
  if (timeoutMin !== undefined && record.backend !== 'debug') base.timeoutMin = timeoutMin
  executor.updateParameters({ ...base, ...params } as never)
  return executor
}
