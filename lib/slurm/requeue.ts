// What a Slurm job does when it is warned that it will end (SIGUSR2): tell a time limit from a
// preemption, and decide whether to checkpoint and requeue. Pure decisions here; ./node.ts acts.
//
// As submitit does, the two are told apart by how long the job has run against its time limit:
// Slurm sends the warning signalDelayS before the limit (up to ~60 s earlier: its timing is coarse,
// see docs/slurm-notes.md), a preemption can come at any time. A warning within the last
// signalDelayS + 90 s of the limit (or when the limit is unknown) is taken for the time limit.
// (submitit uses min(80 %, limit - 10 min) of the limit, as it does not know the signal delay.)
import fs from 'node:fs'
import path from 'node:path'
import { writeAtomic } from '../core/format.js'
import type { JobPaths } from '../core/paths.js'

/** What the batch script tells the worker (see lib/slurm/script.ts, requeueEnv). */
export interface RequeueSettings {
  /** the job's time limit in seconds (--time), undefined when unknown or unlimited */
  timeLimitS?: number
  /** how long before the limit Slurm sends SIGUSR2 (--signal=...@N) */
  signalDelayS?: number
  /** requeues allowed after the time limit (maxNumTimeout, default 3) */
  maxNumTimeout: number
  /** when this run of the job started (epoch seconds), from the batch shell */
  startedAtS?: number
  /**
   * when a warning came that killed the worker before its handler was installed (epoch seconds): the
   * batch shell runs the worker again with it (see backgroundRun in ./script.ts)
   */
  warnedAtS?: number
  /** how long a warned task has to answer with its checkpoint before the job is requeued without it */
  checkpointGraceS: number
}

/** Slack beyond signalDelayS: Slurm may send the warning up to ~60 s early. */
export const WARNING_SLACK_S = 90

export const DEFAULT_MAX_NUM_TIMEOUT = 3

/**
 * A task answers its checkpoint when it yields to the event loop; a busy one may never. After this,
 * the job is requeued from what it saved itself (saveCheckpoint) or from scratch, well before Slurm's
 * kill (the warning comes 90 s before the limit by default). SUBMITIT_CHECKPOINT_GRACE_S changes it.
 */
export const DEFAULT_CHECKPOINT_GRACE_S = 30

export function settingsFromEnv(env: NodeJS.ProcessEnv): RequeueSettings {
  const num = (v: string | undefined) => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v))
  return {
    timeLimitS: num(env.SUBMITIT_TIME_LIMIT_S),
    signalDelayS: num(env.SUBMITIT_SIGNAL_DELAY_S),
    maxNumTimeout: num(env.SUBMITIT_MAX_NUM_TIMEOUT) ?? DEFAULT_MAX_NUM_TIMEOUT,
    startedAtS: num(env.SUBMITIT_JOB_START),
    warnedAtS: num(env.SUBMITIT_WARNED_AT),
    checkpointGraceS: num(env.SUBMITIT_CHECKPOINT_GRACE_S) ?? DEFAULT_CHECKPOINT_GRACE_S,
  }
}

/** Is a warning received after `elapsedS` seconds of this run the time limit's (else a preemption)? */
export function isTimeLimitWarning(elapsedS: number, settings: Pick<RequeueSettings, 'timeLimitS' | 'signalDelayS'>): boolean {
  if (settings.timeLimitS === undefined) return true // cannot tell: the bounded choice
  return elapsedS >= settings.timeLimitS - (settings.signalDelayS ?? 0) - WARNING_SLACK_S
}

export type WarningAction =
  /** save the checkpoint, count the timeout if it is one, requeue */
  | { kind: 'checkpoint-requeue'; countsTimeout: boolean }
  /** requeue without a checkpoint: the rerun starts from scratch (a preempted task without one) */
  | { kind: 'requeue-from-scratch' }
  /** no requeue: the task goes on and Slurm stops it at the limit (timed out, no checkpoint) */
  | { kind: 'go-on' }
  /** the timeouts allowed are spent: the job ends TIMEOUT now */
  | { kind: 'give-up' }

/**
 * submitit's rules: a time limit consumes one of maxNumTimeout requeues, a preemption none; a
 * preempted task is requeued even without a checkpoint (from scratch), a timed-out one only with one.
 */
export function decide(timedOut: boolean, hasCheckpoint: boolean, timeoutsSoFar: number, maxNumTimeout: number): WarningAction {
  if (!timedOut) return hasCheckpoint ? { kind: 'checkpoint-requeue', countsTimeout: false } : { kind: 'requeue-from-scratch' }
  if (!hasCheckpoint) return { kind: 'go-on' }
  if (timeoutsSoFar >= maxNumTimeout) return { kind: 'give-up' }
  return { kind: 'checkpoint-requeue', countsTimeout: true }
}

/** The requeues of a job so far, kept next to it across its runs, for one submission (nonce). */
export interface RequeueCounts {
  nonce: string
  timeouts: number
  preemptions: number
}

export function countsFile(paths: JobPaths): string {
  return path.join(path.dirname(paths.checkpoint), `${paths.jobId}_requeues.json`)
}

/** The counts for this submission; zeros when the file is missing or belongs to another submission. */
export function readCounts(paths: JobPaths, nonce: string): RequeueCounts {
  try {
    const c = JSON.parse(fs.readFileSync(countsFile(paths), 'utf8')) as Partial<RequeueCounts>
    if (c.nonce === nonce && Number.isInteger(c.timeouts) && Number.isInteger(c.preemptions)) return c as RequeueCounts
  } catch {
    /* none yet */
  }
  return { nonce, timeouts: 0, preemptions: 0 }
}

export function writeCounts(paths: JobPaths, counts: RequeueCounts): void {
  writeAtomic(countsFile(paths), Buffer.from(`${JSON.stringify(counts)}\n`))
}
