#!/usr/bin/env node
// The worker entrypoint as a command, the way a batch script runs it on a node:
//   node dist/worker/main.js <folder template> [--array-id A] [--index a] [--task t] [--nonce N]
// Ids not given come from our own SUBMITIT_* variables or Slurm's (lib/slurm/node.ts). Exits 1 when a
// task failed. The nonce (--nonce or SUBMITIT_NONCE, set by the batch script) names the submission
// the job was made for: the worker runs only a submission file with that nonce, never one left by an
// older job with the same id (Slurm reuses ids after its state is reset).
// The task runs in a thread (worker/thread.ts), the same code a pool thread runs: the main thread
// stays free for signals, so even a busy task is warned, checkpointed and requeued (lib/slurm/node.ts).
import fs from 'node:fs'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { FINAL_STATES, readResult, readSubmission, writeEndedResult, type SubmissionRecord } from '../lib/core/format.js'
import { WorkerCrashError } from '../lib/core/job-errors.js'
import { JobPaths, makeJobId, submittedPath } from '../lib/core/paths.js'
import { type ChunkMemory, chunkMemory, type RunReply, type RunRequest } from '../lib/core/protocol.js'
import { heapLimitMb, onPackWarning, onWarning, slurmIds, type WarnedJob } from '../lib/slurm/node.js'
import { settingsFromEnv } from '../lib/slurm/requeue.js'
import { runPack } from './pack.js'
import type { FromThread } from './thread.js'

export interface CliIds {
  arrayId: string
  index: number | null
  task: number
  node?: number
  localRank?: number
  /** requeues so far (Slurm's SLURM_RESTART_COUNT) */
  restarts: number
}

/** Reads the job's ids from the options, else from the environment. */
export function idsFrom(opts: { 'array-id'?: string; index?: string; task?: string }, env: NodeJS.ProcessEnv): CliIds {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v))
  const slurm = slurmIds(env)
  const arrayId = opts['array-id'] ?? env.SUBMITIT_ARRAY_ID ?? slurm.arrayId
  if (!arrayId) throw new Error('no job id: pass --array-id, or run inside a Slurm job')
  const index = num(opts.index ?? env.SUBMITIT_INDEX ?? slurm.index)
  return {
    arrayId,
    index: index ?? null,
    task: num(opts.task ?? env.SUBMITIT_TASK ?? slurm.task) ?? 0,
    node: num(slurm.node),
    localRank: num(slurm.localRank),
    restarts: slurm.restarts,
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
  const memory = chunkMemory(1)
  const job: WarnedJob = { paths, rank: ids.task, index: ids.index ?? 0, settings: settingsFromEnv(env), control: memory.control }
  // a Slurm array task that runs a pack of elements (chunkSize): see worker/pack.ts
  const pack = Number(env.SUBMITIT_PACK) || 1
  // SIGUSR2 (signalDelayS, or a preemption): checkpoint and requeue; its default action would kill us
  const warned = (atS?: number) => void (pack > 1 ? onPackWarning(job, atS) : onWarning(job, atS))
  process.on('SIGUSR2', () => warned())
  // this is the batch shell's second run of the worker: the first died of a warning that came before
  // the handler above (see backgroundRun in lib/slurm/script.ts); it is acted on now
  if (job.settings.warnedAtS !== undefined) warned(job.settings.warnedAtS)
  // SIGTERM comes on a preemption, a scancel or the end of the job, maybe with the warning: it must not
  // end the worker while a checkpoint is written. Logged, and the worker goes on (as submitit's
  // "bypass"): Slurm kills it after KillWait (or the preemption's GraceTime) if it is still there.
  process.on('SIGTERM', () =>
    console.error(
      `submitit-ts worker: SIGTERM received at ${new Date().toISOString()} (the job is being stopped or preempted); the worker goes on until Slurm stops it`,
    ),
  )
  // however this ends, a warning waiting for the task to start (see onWarning) waits no longer
  try {
    return await runJob(job, { submitted, jobId, ids, values, env, pack, memory })
  } finally {
    job.ended = true
  }
}

/** main's part once the signal handlers are in place: the submission, then the pack or the element. */
async function runJob(
  job: WarnedJob,
  ctx: { submitted: string; jobId: string; ids: CliIds; values: { nonce?: string }; env: NodeJS.ProcessEnv; pack: number; memory: ChunkMemory },
): Promise<number> {
  const { submitted, jobId, ids, values, env, pack, memory } = ctx
  const { paths } = job
  const expected = values.nonce ?? (env.SUBMITIT_NONCE || undefined)
  const waitMs = Number(env.SUBMITIT_SUBMISSION_WAIT_MS) || SUBMISSION_WAIT_MS
  job.sub = await waitForSubmission(submitted, expected, waitMs)
  if (pack > 1) {
    const threads = Number(env.SLURM_CPUS_PER_TASK) || 1
    const failures = await runPack({ submitted, sub: job.sub, pack, packIndex: job.index, threads, restarts: ids.restarts })
    return failures > 0 ? 1 : 0
  }
  // a job that already has its result (this submission's) is done: Slurm runs it again when it is
  // requeued from outside (`scontrol requeue` of a finished job, or of a running one whose task ended
  // during KillWait), and running the task again would run it twice and replace the result read already
  const done = resultOf(paths.resultFile(ids.task), job.sub.nonce)
  if (done) {
    console.error(
      `submitit-ts worker: job ${jobId} (task ${ids.task}) already has its result (${done}, ${paths.resultFile(ids.task)}): ` +
        `it is not run again (this run is a requeue after it ended)`,
    )
    return done === 'COMPLETED' ? 0 : 1
  }
  const reply = await runInThread(
    {
      submitted,
      nonce: job.sub.nonce,
      first: job.index,
      count: 1,
      task: ids.task,
      capture: 'fds',
      guard: true,
      gated: true,
      memory,
      node: ids.node,
      localRank: ids.localRank,
      resume: true,
      restarts: ids.restarts,
    },
    job.sub,
    heapLimitMb(env),
  )
  return reply.failures > 0 ? 1 : 0
}

/** The state of the result in `file` if it is this submission's (`nonce`), else undefined. */
function resultOf(file: string, nonce: string): string | undefined {
  if (!fs.existsSync(file)) return undefined
  try {
    const record = readResult(file)
    return record.nonce === nonce ? FINAL_STATES[record.states[0] ?? 0] : undefined
  } catch {
    return undefined // unreadable: not this submission's (an older submitit-ts's)
  }
}

/**
 * Runs the job's element in a thread. A thread that dies without answering (out of memory, an error
 * outside the task) fails the job with a WorkerCrashError, unless it saved an outcome first (a task
 * calling process.exit does).
 */
function runInThread(req: RunRequest, sub: SubmissionRecord, heapMb: number | undefined): Promise<RunReply> {
  return new Promise((resolve, reject) => {
    const resourceLimits = heapMb === undefined ? undefined : { maxOldGenerationSizeMb: heapMb }
    const thread = new Worker(new URL('./thread.js', import.meta.url), { workerData: req, resourceLimits })
    let answered = false
    let why = ''
    thread.on('message', (m: FromThread) => {
      answered = true
      if ('reply' in m) resolve(m.reply)
      else reject(new Error(m.error))
    })
    thread.on('error', (e) => {
      why = e.stack ?? String(e)
    })
    thread.on('exit', (code) => {
      if (answered) return
      // a task calling process.exit has saved its outcome: only a thread that died with none is failed here
      const jobId = makeJobId(sub.arrayId, sub.isArray ? req.first : null)
      const limit = heapMb === undefined ? '' : ` (its heap limit: ${heapMb} MB, from the memory Slurm gives the task)`
      const error = new WorkerCrashError(`the thread running job ${jobId} died (exit code ${code})${limit}${why ? `: ${why}` : ''}`)
      const { file, written } = writeEndedResult(sub, req.first, req.task, 'FAILED', error, true)
      if (written) console.error(`submitit-ts worker: ${error.message}`)
      resolve({ file, bytes: new Uint8Array(), failures: 1, runMs: 0 })
    })
  })
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
