// rerun(jobs): the same task with the same arguments, again, on the same backend and folder, as one
// new array per old submission. The new submission is built from the old one (its encoded arguments
// are reused as they are); the new job ids are recorded next to the old ones (<A>_rerun.json).
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { getBackend } from './backends.js'
import { BackendError } from './errors.js'
import type { Executor, PreparedArray } from './executor.js'
import { FORMAT_VERSION, readSubmission, writeAtomic, type SubmissionRecord } from './format.js'
import type { Job } from './job.js'
import { currentOwner } from './owner.js'
import { arrayFolder, parseJobId } from './paths.js'

export interface RerunOptions {
  /** where the scheduler's commands are (Slurm: sbatch & co.; tests use fakes), given to the backend's createExecutor */
  commands?: unknown
  /** the caller holds the arrays' rerun locks already (withRerunLock: the command line chooses the jobs under it) @internal */
  locked?: boolean
}

/**
 * What `<A>_rerun.json` holds: each rerun of jobs of array A, old job id → new job id; in the
 * new array's, which array its jobs are reruns of (new job id → old job id); and the nonce of A's
 * submission (absent in files of older versions): a Slurm id is given again once its state is reset,
 * and the links of an older array A are not the new A's.
 */
export interface RerunLinks {
  nonce?: string
  reruns: { at: string; arrayId: string; jobs: Record<string, string> }[]
  rerunOf?: { arrayId: string; jobs: Record<string, string> }
}

type ArrayRef = Pick<SubmissionRecord, 'folder' | 'arrayId' | 'isArray'>

/** `<A>_rerun.json` in the array's folder (under `folder`, the folder template its files are in: the record's by default). */
export function rerunFile(record: ArrayRef, folder = record.folder): string {
  return path.join(arrayFolder(folder, record.arrayId, record.isArray), `${record.arrayId}_rerun.json`)
}

/** The reruns of the record's jobs; none when the file is another submission's (a reused id). */
export function readReruns(record: ArrayRef & { nonce?: string }, folder = record.folder): RerunLinks | undefined {
  try {
    const links = JSON.parse(fs.readFileSync(rerunFile(record, folder), 'utf8')) as RerunLinks
    return links.nonce === undefined || record.nonce === undefined || links.nonce === record.nonce ? links : undefined
  } catch {
    return undefined
  }
}

/** How long a rerun waits for another one of the same array (another shell, another process). */
const LOCK_WAIT_MS = 120_000

/**
 * Runs `fn` holding the rerun lock of an array (`<A>_rerun.lock`, made exclusively, holding the pid
 * and host of its holder): two reruns of one array, from two shells at once, neither rerun the same
 * jobs twice nor lose each other's links. A lock whose holder is gone (same host, pid not alive) is
 * taken over; one held longer than LOCK_WAIT_MS is an error naming its holder.
 */
export async function withRerunLock<T>(record: ArrayRef, folder: string, fn: () => Promise<T>, onWait?: (holder: string) => void): Promise<T> {
  const file = rerunFile(record, folder).replace(/\.json$/, '.lock')
  const me = `${process.pid} ${os.hostname()}`
  const start = Date.now()
  let told = false
  for (let delay = 20; ; delay = Math.min(500, delay * 1.5)) {
    try {
      fs.writeFileSync(file, me, { flag: 'wx' })
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    let holder = ''
    try {
      holder = fs.readFileSync(file, 'utf8')
    } catch {
      continue // just released
    }
    const [pid, host] = holder.split(' ')
    if (host === os.hostname() && !alive(Number(pid))) {
      fs.rmSync(file, { force: true }) // its holder died holding it
      continue
    }
    if (Date.now() - start > LOCK_WAIT_MS) {
      throw new Error(`another rerun of ${record.arrayId} (pid ${pid} on ${host}) holds ${file}; wait for it, or remove that file if that process is gone`)
    }
    if (!told) onWait?.(`pid ${pid} on ${host}`)
    told = true
    await new Promise((r) => setTimeout(r, delay))
  }
  try {
    return await fn()
  } finally {
    fs.rmSync(file, { force: true })
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The rerun of `jobId` and the reruns of that one, in order: [A_3 → B_0, B_0 → C_0] gives ['B_0', 'C_0']. */
export function rerunChain(folder: string, jobId: string, links: Map<string, string>, max = 20): string[] {
  const chain: string[] = []
  let next = links.get(jobId)
  while (next !== undefined && chain.length < max && !chain.includes(next)) {
    chain.push(next)
    const { arrayId, index } = parseJobId(next)
    const more = readReruns({ folder, arrayId, isArray: index !== null })
    next = more && rerunMap(more).get(next)
  }
  return chain
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
  const groups = new Map<string, { record: SubmissionRecord; folder: string; at: number[]; indices: number[] }>()
  jobs.forEach((job, at) => {
    const file = job.paths.submitted
    let group = groups.get(file)
    if (!group) {
      const record = readSubmission(file)
      if (record.nonce !== job.nonce) throw new Error(`${file} now holds another submission than job ${job.jobId}'s (its id was reused): it cannot be rerun`)
      // the folder the job's files are in (the record's, unless they were moved since)
      group = { record, folder: job.paths.folderTemplate, at: [], indices: [] }
      groups.set(file, group)
    }
    group.at.push(at)
    group.indices.push(job.paths.index ?? 0)
  })
  const result = new Array<Job<unknown>>(jobs.length)
  for (const group of groups.values()) {
    const submit = () => rerunGroup(group, jobs, result, params, options)
    if (options.locked) await submit()
    else await withRerunLock(group.record, group.folder, submit)
  }
  return result
}

/** One old submission's jobs as one new array; the links recorded on both sides. */
async function rerunGroup(
  { record, folder, at, indices }: { record: SubmissionRecord; folder: string; at: number[]; indices: number[] },
  jobs: readonly Job<unknown>[],
  result: Job<unknown>[],
  params: Record<string, unknown>,
  options: RerunOptions,
): Promise<void> {
  {
    const executor = executorFor(record, folder, params, options)
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
    const back: Record<string, string> = {}
    submitted.forEach((job, k) => {
      result[at[k]] = job
      links[jobs[at[k]].jobId] = job.jobId
      back[job.jobId] = jobs[at[k]].jobId
    })
    const newArray = submitted[0].paths.arrayId
    const old = readReruns(record, folder) ?? { reruns: [] }
    old.nonce = record.nonce
    old.reruns.push({ at: new Date().toISOString(), arrayId: newArray, jobs: links })
    writeAtomic(rerunFile(record, folder), Buffer.from(`${JSON.stringify(old, null, 1)}\n`))
    const fresh = { folder, arrayId: newArray, isArray: submitted[0].paths.index !== null, nonce: submitted[0].nonce }
    const theirs = readReruns(fresh) ?? { reruns: [] }
    theirs.nonce = fresh.nonce
    theirs.rerunOf = { arrayId: record.arrayId, jobs: back }
    writeAtomic(rerunFile(fresh), Buffer.from(`${JSON.stringify(theirs, null, 1)}\n`))
  }
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
function executorFor(record: SubmissionRecord, folder: string, params: Record<string, unknown>, options: RerunOptions): Executor<object> {
  const backend = getBackend(record.backend)
  if (!backend) {
    throw new BackendError(`cannot rerun jobs of array ${record.arrayId}: its backend "${record.backend}" is not registered in this process (registerBackend)`)
  }
  const { timeoutMin, tasksPerNode, nodes, stderrToStdout } = record.params
  const base: Record<string, unknown> = { tasksPerNode, nodes, ...backend.parametersOf?.(record) }
  if (stderrToStdout) base.stderrToStdout = true
  const executor = backend.createExecutor({ folder, commands: options.commands })
  if (timeoutMin !== undefined && record.backend !== 'debug') base.timeoutMin = timeoutMin
  executor.updateParameters({ ...base, ...params } as never)
  return executor
}
