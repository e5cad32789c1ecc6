#!/usr/bin/env node
// The worker entrypoint as a command, the way a batch script runs it on a node:
//   node dist/worker/main.js <folder template> [--array-id A] [--index a] [--task t] [--nonce N]
// Ids not given come from Slurm's variables (SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_JOB_ID,
// SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID) or our own SUBMITIT_* ones. Exits 1 when a task failed.
// The nonce (--nonce or SUBMITIT_NONCE, set by the batch script) names the submission the job was
// made for: the worker runs only a submission file with that nonce, never one left by an older job
// with the same id (Slurm reuses ids after its state is reset).
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import fs from 'node:fs'
import { encodeOutcome, readCheckpoint, readSubmission, writeResultFile, type CheckpointRecord, type SubmissionRecord } from '../lib/core/format.js'
import { JobPaths, makeJobId, resultsPath, submittedPath } from '../lib/core/paths.js'
import { writeCheckpoint } from '../lib/core/checkpoint.js'
import { checkpointOf } from '../lib/core/task.js'
import { decide, isTimeLimitWarning, readCounts, settingsFromEnv, writeCounts, type RequeueCounts, type RequeueSettings } from './requeue.js'
import { abandonRun, runningTask, runTasks } from './run.js'

export interface CliIds {
  arrayId: string
  index: number | null
  task: number
  node?: number
  localRank?: number
}

/** Reads the job's ids from the options, else from the environment. */
export function idsFrom(opts: { 'array-id'?: string; index?: string; task?: string }, env: NodeJS.ProcessEnv): CliIds {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v))
  const arrayId = opts['array-id'] ?? env.SUBMITIT_ARRAY_ID ?? env.SLURM_ARRAY_JOB_ID ?? env.SLURM_JOB_ID
  if (!arrayId) throw new Error('no job id: pass --array-id, or run inside a Slurm job')
  const index = num(opts.index ?? env.SUBMITIT_INDEX ?? (env.SLURM_ARRAY_JOB_ID ? env.SLURM_ARRAY_TASK_ID : undefined))
  return {
    arrayId,
    index: index ?? null,
    task: num(opts.task ?? env.SUBMITIT_TASK ?? env.SLURM_PROCID) ?? 0,
    node: num(env.SLURM_NODEID),
    localRank: num(env.SLURM_LOCALID),
  }
}

/** How long the worker waits for its submission file (sbatch answers before it is written). */
export const SUBMISSION_WAIT_MS = 120_000

/**
 * Waits until `file` holds the submission with `nonce` (any submission when no nonce is given) and
 * returns it. The submitting process writes it just after sbatch answers, so a job that starts at
 * once may find nothing yet, or the file of an older job that had the same id: both mean "wait".
 * Fails after `timeoutMs` naming the file, the nonce and what was there instead.
 */
export async function waitForSubmission(file: string, nonce: string | undefined, timeoutMs = SUBMISSION_WAIT_MS): Promise<SubmissionRecord> {
  const end = Date.now() + timeoutMs
  let seen = 'no such file'
  for (let delay = 50; ; delay = Math.min(delay * 1.5, 1000)) {
    if (fs.existsSync(file)) {
      try {
        const record = readSubmission(file)
        if (!nonce || record.nonce === nonce) return record
        seen = `it holds another submission (nonce ${record.nonce}, written ${new Date(record.owner.at).toISOString()}), left by an older job with the same id`
      } catch (e) {
        seen = `it cannot be read as this job's: ${(e as Error).message}`
      }
    }
    if (Date.now() > end) {
      throw new Error(
        `the submission file ${file}${nonce ? ` with nonce ${nonce}` : ''} did not appear within ${timeoutMs / 1000} s (${seen}); ` +
          'was the submitting process killed right after sbatch?',
      )
    }
    await new Promise((r) => setTimeout(r, delay))
  }
}

/** A requeued job runs with the arguments its checkpoint saved, if it saved any (for this submission). */
function resumeArgs(paths: JobPaths, nonce: string): { args: unknown[]; marked: boolean } | undefined {
  if (!fs.existsSync(paths.checkpoint)) return undefined
  let saved: CheckpointRecord
  try {
    saved = readCheckpoint(paths.checkpoint)
  } catch (e) {
    console.error(`submitit-ts worker: ignoring ${paths.checkpoint}: ${(e as Error).message}`)
    return undefined // an older submitit-ts's: not this submission's
  }
  if (saved.nonce !== nonce) return undefined // left by an older job with the same id
  console.error(`submitit-ts worker: job ${paths.jobId} resumes from its checkpoint of ${new Date(saved.at).toISOString()}`)
  return { args: saved.args, marked: saved.marked }
}

/** What the warning handler needs; `sub` is there once the submission file has been read. */
interface WarningContext {
  paths: JobPaths
  rank: number
  index: number | null
  settings: RequeueSettings
  sub?: SubmissionRecord
}

let handling = false

/**
 * Slurm warns that the job will end: its time limit is near, or it is preempted (told apart by the
 * time run against the limit, see worker/requeue.ts). submitit's rules: a task with a checkpoint
 * saves the arguments to resume with and rank 0 requeues the job; a time limit uses one of the
 * maxNumTimeout requeues, a preemption none; a preempted task without a checkpoint is requeued from
 * scratch, a timed-out one is not (it goes on until Slurm stops it); once the requeues for time
 * limits are spent, the job ends TIMEOUT, its result saying so.
 */
async function onWarning(ctx: WarningContext): Promise<void> {
  const log = (msg: string) => console.error(`submitit-ts worker: ${msg}`)
  const { paths, settings, sub } = ctx
  const elapsedS = settings.startedAtS !== undefined ? Date.now() / 1000 - settings.startedAtS : process.uptime()
  const timedOut = isTimeLimitWarning(elapsedS, settings)
  const limit = settings.timeLimitS === undefined ? 'an unknown time limit' : `its time limit of ${settings.timeLimitS} s`
  log(
    `SIGUSR2 received at ${new Date().toISOString()} after ${Math.round(elapsedS)} s of ${limit}: ${timedOut ? 'the time limit is near' : 'the job is preempted'}`,
  )
  if (ctx.rank !== 0) return log('rank 0 checkpoints and requeues the job')
  const running = runningTask()
  if (!sub || !running) return log('no task is running (not started yet, or already done): nothing to do')
  if (handling) return log('a warning is already being handled')
  handling = true
  try {
    const checkpoint = checkpointOf(running.fn)
    const counts = readCounts(paths, sub.nonce)
    const action = decide(timedOut, checkpoint !== undefined, counts.timeouts, settings.maxNumTimeout)
    if (action.kind === 'go-on') {
      return log('the task has no checkpoint: a timed-out job is not requeued; it goes on until Slurm stops it')
    }
    if (action.kind === 'give-up') {
      await saveCheckpoint(paths, sub.nonce, checkpoint!, running.args).catch((e: Error) => log(`the last checkpoint failed: ${e.stack ?? e}`))
      return giveUp(ctx, sub, counts)
    }
    if (checkpoint) await saveCheckpoint(paths, sub.nonce, checkpoint, running.args)
    if (action.kind === 'checkpoint-requeue' && action.countsTimeout) counts.timeouts++
    else counts.preemptions++
    writeCounts(paths, counts)
    log(
      `requeueing job ${paths.jobId} (${action.kind === 'requeue-from-scratch' ? 'no checkpoint: it starts again from scratch' : 'it resumes from its checkpoint'}; ` +
        `time limits so far: ${counts.timeouts} of ${settings.maxNumTimeout} allowed, preemptions: ${counts.preemptions})`,
    )
    await requeue(paths.jobId)
    abandonRun() // no result for this run: the job is not over
    process.exit(0) // Slurm runs the job again
  } catch (e) {
    log(`checkpoint or requeue of job ${paths.jobId} failed, the task goes on: ${(e as Error).stack ?? e}`)
  } finally {
    handling = false
  }
}

/**
 * `scontrol requeue <id>`, shielded from the SIGTERM that Slurm sends every process of the step in
 * the meantime (a preemption's; `scancel --signal=TERM`): killed by it, the command once left the job
 * requeued but the worker believing the opposite, running on to a result that the rerun would replace.
 * If it still dies of a signal, the scheduler says whether the job was requeued.
 */
async function requeue(jobId: string): Promise<void> {
  const { execa } = await import('execa') // only now: loading it costs every job ~0.1 s of CPU at start
  const r = await execa('sh', ['-c', 'trap "" TERM INT HUP; exec scontrol requeue "$1"', 'requeue', jobId], { timeout: 60_000, reject: false })
  if (!r.failed) return
  if (r.signal) {
    const state = await execa('squeue', ['-h', '-j', jobId, '-o', '%T'], { reject: false, timeout: 30_000 })
    if (/PENDING|REQUEUE/.test(String(state.stdout))) return
  }
  throw new Error(`scontrol requeue ${jobId} failed: ${r.stderr || r.shortMessage}`)
}

async function saveCheckpoint(paths: JobPaths, nonce: string, checkpoint: (...args: unknown[]) => unknown, args: unknown[]): Promise<void> {
  writeCheckpoint(paths, nonce, await checkpoint(...args))
  console.error(`submitit-ts worker: checkpoint saved to ${paths.checkpoint}`)
}

/** The requeues allowed after a time limit are spent: the job ends TIMEOUT, and its result says why. */
function giveUp(ctx: WarningContext, sub: SubmissionRecord, counts: RequeueCounts): never {
  const { paths, settings } = ctx
  const error = Object.assign(
    new Error(
      `job ${paths.jobId} reached its time limit again after ${counts.timeouts} requeue(s) for time limits, the most allowed ` +
        `(maxNumTimeout: ${settings.maxNumTimeout}): it was not requeued again; its last checkpoint is in ${paths.checkpoint}`,
    ),
    { name: 'JobTimeoutError' },
  )
  const index = ctx.index ?? 0
  const { outcome, marked } = encodeOutcome({ state: 'TIMEOUT', error }, `the result of job ${paths.jobId}`)
  const file = resultsPath(sub.folder, sub.arrayId, sub.isArray, index, 1, ctx.rank)
  writeResultFile(sub, file, index, ctx.rank, [outcome], marked)
  console.error(`submitit-ts worker: ${error.message}`)
  abandonRun() // the result is written: the exit must not write another
  process.exit(1)
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'array-id': { type: 'string' }, index: { type: 'string' }, task: { type: 'string' }, nonce: { type: 'string' } },
    allowPositionals: true,
  })
  if (positionals.length !== 1) throw new Error('usage: main.js <folder template> [--array-id A] [--index a] [--task t] [--nonce N]')
  const ids = idsFrom(values, env)
  const template = positionals[0]
  const submitted = submittedPath(template, ids.arrayId, ids.index !== null)
  const jobId = makeJobId(ids.arrayId, ids.index)
  const paths = new JobPaths(template, jobId, { arrayId: ids.arrayId, index: ids.index })
  // SIGUSR2 (signalDelayS, or a preemption): checkpoint and requeue; its default action would kill us
  const ctx: WarningContext = { paths, rank: ids.task, index: ids.index, settings: settingsFromEnv(env) }
  process.on('SIGUSR2', () => void onWarning(ctx))
  // SIGTERM comes on a preemption, a scancel or the end of the job, maybe with the warning: it must not
  // end the worker while a checkpoint is written. Logged, and the worker goes on (as submitit's
  // "bypass"): Slurm kills it after KillWait (or the preemption's GraceTime) if it is still there.
  process.on('SIGTERM', () =>
    console.error(
      `submitit-ts worker: SIGTERM received at ${new Date().toISOString()} ` +
        `(the job is being stopped or preempted)${handling ? '; the checkpoint in progress goes on' : ''}; the worker goes on until Slurm stops it`,
    ),
  )
  const expected = values.nonce ?? (env.SUBMITIT_NONCE || undefined)
  const waitMs = Number(env.SUBMITIT_SUBMISSION_WAIT_MS) || SUBMISSION_WAIT_MS
  ctx.sub = await waitForSubmission(submitted, expected, waitMs)
  const nonce = ctx.sub.nonce
  const args = resumeArgs(paths, nonce)
  const reply = await runTasks({
    submitted,
    first: ids.index ?? 0,
    count: 1,
    task: ids.task,
    capture: 'none',
    guard: true,
    node: ids.node,
    localRank: ids.localRank,
    args,
    restarts: Number(env.SLURM_RESTART_COUNT ?? 0) || 0,
  })
  return reply.failures > 0 ? 1 : 0
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code
    },
    (e: Error) => {
      console.error(`submitit-ts worker: ${e.stack ?? e.message}`)
      process.exitCode = 2
    },
  )
}
