// What a Slurm job's worker does on the node besides running its task (submitit's SlurmJobEnvironment):
// read its ids from Slurm's variables, and act on the warning that the job will end (SIGUSR2):
// checkpoint, requeue, or end TIMEOUT, by the rules of ./requeue.ts. The task runs in a thread
// (worker/main.ts), so this runs on the process's main thread even while the task is busy.
import { writeEndedResult, type SubmissionRecord } from '../core/format.js'
import type { JobPaths } from '../core/paths.js'
import { checkpointAnswer, CURRENT, holdResult, releaseResult, WARNED } from '../core/protocol.js'
import { readCheckpointOf } from '../core/checkpoint.js'
import { TimeoutError } from '../core/job-errors.js'
import { decide, isTimeLimitWarning, readCounts, writeCounts, type RequeueSettings } from './requeue.js'

/** The job's ids as Slurm gives them to each task of the step (undefined: not in a Slurm job). */
export function slurmIds(env: NodeJS.ProcessEnv): { arrayId?: string; index?: string; task?: string; node?: string; localRank?: string; restarts: number } {
  return {
    arrayId: env.SLURM_ARRAY_JOB_ID ?? env.SLURM_JOB_ID,
    index: env.SLURM_ARRAY_JOB_ID ? env.SLURM_ARRAY_TASK_ID : undefined,
    task: env.SLURM_PROCID,
    node: env.SLURM_NODEID,
    localRank: env.SLURM_LOCALID,
    restarts: Number(env.SLURM_RESTART_COUNT ?? 0) || 0,
  }
}

/**
 * The heap the task's thread may use: 90 % of the memory Slurm gives each task (--mem per node shared
 * by its tasks, or --mem-per-cpu times the task's CPUs), so that a task using too much fails with a
 * clear error instead of being killed by the node's memory limit with the worker. Undefined when
 * Slurm sets no limit.
 */
export function heapLimitMb(env: NodeJS.ProcessEnv): number | undefined {
  const num = (v: string | undefined) => (v && Number.isFinite(Number.parseInt(v, 10)) ? Number.parseInt(v, 10) : undefined)
  const perNode = num(env.SLURM_MEM_PER_NODE)
  const perCpu = num(env.SLURM_MEM_PER_CPU)
  const tasks = num(env.SLURM_NTASKS_PER_NODE) ?? 1
  const mb = perNode !== undefined ? perNode / tasks : perCpu !== undefined ? perCpu * (num(env.SLURM_CPUS_PER_TASK) ?? 1) : undefined
  return mb === undefined || mb <= 0 ? undefined : Math.max(64, Math.floor(mb * 0.9))
}

/** The running job, as the warning handler sees it. */
export interface WarnedJob {
  paths: JobPaths
  rank: number
  /** the element (array index, 0 for a single job) */
  index: number
  settings: RequeueSettings
  /** the memory shared with the task's thread: which element runs, the warning, the result gate */
  control: Int32Array
  /** there once the submission file has been read */
  sub?: SubmissionRecord
  /** the task's run is over (or will not happen): a warning has nothing left to act on */
  ended?: boolean
  /** a warning came before the task started: it is acted on once the task runs (see onWarning) */
  early?: boolean
}

/** How often a warning that came before the task started looks whether it runs now. */
const EARLY_WARNING_POLL_MS = 50

const log = (msg: string) => console.error(`submitit-ts worker: ${msg}`)

/** How long this run has lasted, and whether a warning now is the time limit's (else a preemption). */
function warningOf(settings: RequeueSettings, atS: number): { elapsedS: number; timedOut: boolean } {
  const elapsedS = settings.startedAtS !== undefined ? atS - settings.startedAtS : process.uptime()
  return { elapsedS, timedOut: isTimeLimitWarning(elapsedS, settings) }
}
let handling = false

/**
 * Slurm warns that the job will end: its time limit is near, or it is preempted (told apart by the
 * time run against the limit, see ./requeue.ts). submitit's rules: a task with a checkpoint saves the
 * arguments to resume with and rank 0 requeues the job; a time limit uses one of the maxNumTimeout
 * requeues, a preemption none; a preempted task without a checkpoint is requeued from scratch, a
 * timed-out one is not (it goes on until Slurm stops it); once the requeues for time limits are spent,
 * the job ends TIMEOUT, its result saying so. A task that ends while this is decided keeps its result:
 * the job is then not requeued (the result gate, see holdResult), so nothing runs twice.
 */
export async function onWarning(job: WarnedJob, atS = Date.now() / 1000): Promise<void> {
  const { paths, settings, control, index } = job
  const { elapsedS, timedOut } = warningOf(settings, atS)
  const limit = settings.timeLimitS === undefined ? 'an unknown time limit' : `its time limit of ${settings.timeLimitS} s`
  log(
    `SIGUSR2 received at ${new Date(atS * 1000).toISOString()} after ${Math.round(elapsedS)} s of ${limit}: ${timedOut ? 'the time limit is near' : 'the job is preempted'}`,
  )
  if (job.rank !== 0) return log('rank 0 checkpoints and requeues the job')
  const running = () => Atomics.load(control, CURRENT) === index
  if (!job.sub || !running()) {
    if (job.ended) return log('no task is running (it is done): nothing to do')
    // Slurm may warn up to a minute early (a 2-minute limit: seconds after the start), while the worker
    // still waits for its submission or starts the task's thread: it is not lost, but acted on then
    if (job.early) return log('an earlier warning already waits for the task to start')
    job.early = true
    log('the task has not started yet: the warning is acted on once it runs')
    while (!job.ended && !(job.sub && running())) await new Promise((r) => setTimeout(r, EARLY_WARNING_POLL_MS))
    job.early = false
    if (job.ended) return log('the task ended before the warning could be acted on: nothing to do')
    // acted on here, not by calling onWarning again: that logged the one signal as received twice
  }
  const sub = job.sub! // there: the wait above ends only once the task runs
  if (handling) return log('a warning is already being handled')
  handling = true
  try {
    // a task can resume when it has a checkpoint function, or saved one itself (saveCheckpoint)
    const hasCheckpoint = sub.fns[sub.fnIndex[index] ?? 0]?.checkpoint === true
    const counts = readCounts(paths, sub.nonce)
    const action = decide(timedOut, hasCheckpoint || saved(job, sub.nonce), counts.timeouts, settings.maxNumTimeout)
    // the task sees it (JobEnvironment.warned, .signal); with a checkpoint, its thread calls it
    Atomics.store(control, WARNED, index)
    if (action.kind === 'go-on') return log('the task has no checkpoint: a timed-out job is not requeued; it goes on until Slurm stops it')
    if (hasCheckpoint) await checkpointed(job, running)
    if (!holdResult(control)) return log('the task ended meanwhile: its result stands, the job is not requeued')
    if (action.kind === 'give-up') return giveUp(job, sub, counts.timeouts)
    if (action.kind === 'checkpoint-requeue' && action.countsTimeout) counts.timeouts++
    else counts.preemptions++
    writeCounts(paths, counts)
    const from = saved(job, sub.nonce) ? 'it resumes from its checkpoint' : 'no checkpoint: it starts again from scratch'
    log(
      `requeueing job ${paths.jobId} (${from}; time limits so far: ${counts.timeouts} of ${settings.maxNumTimeout} allowed, preemptions: ${counts.preemptions})`,
    )
    try {
      await requeue(paths.jobId)
    } catch (e) {
      releaseResult(control)
      throw e
    }
    process.exit(0) // no result for this run (held back): Slurm runs the job again
  } catch (e) {
    log(`checkpoint or requeue of job ${paths.jobId} failed, the task goes on: ${(e as Error).stack ?? e}`)
  } finally {
    handling = false
  }
}

function saved(job: WarnedJob, nonce: string): boolean {
  try {
    return readCheckpointOf(job.paths, nonce) !== undefined
  } catch {
    return false // unreadable: the rerun ignores it too
  }
}

/**
 * The warning to a pack (chunkSize): its elements have no checkpoint of their own to save. A
 * preemption requeues the pack, whose rerun skips the elements that have a result; near the time
 * limit it goes on, and the elements Slurm stops end as the pack does (TIMEOUT).
 */
export async function onPackWarning(job: WarnedJob, atS = Date.now() / 1000): Promise<void> {
  const { paths, settings } = job
  const { elapsedS, timedOut } = warningOf(settings, atS)
  if (timedOut) {
    return log(`SIGUSR2 received after ${Math.round(elapsedS)} s: the time limit is near; the elements not done by then end TIMEOUT`)
  }
  if (handling) return
  handling = true
  try {
    log(`SIGUSR2 received after ${Math.round(elapsedS)} s: the pack is preempted; requeueing ${paths.jobId}: its rerun goes on after the elements done`)
    await requeue(paths.jobId)
    process.exit(0)
  } catch (e) {
    log(`requeue of ${paths.jobId} failed, the pack goes on: ${(e as Error).stack ?? e}`)
  } finally {
    handling = false
  }
}

/** Waits for the task's thread to save its checkpoint, for the task to end, or for the grace to pass. */
async function checkpointed(job: WarnedJob, running: () => boolean): Promise<void> {
  const end = Date.now() + job.settings.checkpointGraceS * 1000
  for (;;) {
    const answer = checkpointAnswer(job.control, job.index)
    if (answer === 'saved') return
    if (answer === 'failed') {
      return log('the checkpoint failed (its error is above): the job resumes from what it saved itself with saveCheckpoint(), if anything, else from scratch')
    }
    if (!running()) return
    if (Date.now() > end) {
      return log(
        `the task did not answer its checkpoint within ${job.settings.checkpointGraceS} s (busy without yielding?): ` +
          `it resumes from what it saved itself with saveCheckpoint(), if anything, else from scratch`,
      )
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The requeues allowed after a time limit are spent: the job ends TIMEOUT, and its result says why. */
function giveUp(job: WarnedJob, sub: SubmissionRecord, timeouts: number): never {
  const { paths, settings } = job
  const error = new TimeoutError(
    `job ${paths.jobId} reached its time limit again after ${timeouts} requeue(s) for time limits, the most allowed ` +
      `(maxNumTimeout: ${settings.maxNumTimeout}): it was not requeued again; its last checkpoint is in ${paths.checkpoint}`,
  )
  writeEndedResult(sub, job.index, job.rank, 'TIMEOUT', error)
  log(error.message)
  process.exit(1)
}

/**
 * `scontrol requeue <id>`, shielded from the SIGTERM that Slurm sends every process of the step in
 * the meantime (a preemption's; `scancel --signal=TERM`): killed by it, the command once left the job
 * requeued but the worker believing the opposite. If it still dies of a signal, the scheduler says
 * whether the job was requeued. The command wrappers (and execa) load only now: a job that is never
 * warned does not pay for them at start.
 */
async function requeue(jobId: string): Promise<void> {
  const [{ execa }, { commandPath }] = await Promise.all([import('execa'), import('./commands.js')])
  const options = { timeout: 60_000, reject: false, stdin: 'ignore' } as const
  const r = await execa('sh', ['-c', 'trap "" TERM INT HUP; exec "$1" requeue "$2"', 'requeue', commandPath('scontrol'), jobId], options)
  if (!r.failed) return
  if (r.signal) {
    const state = await execa(commandPath('squeue'), ['-h', '-j', jobId, '-o', '%T'], options)
    if (/PENDING|REQUEUE/.test(String(state.stdout))) return
  }
  throw new Error(`scontrol requeue ${jobId} failed: ${r.stderr || r.shortMessage}`)
}
