// A pack on a node (Slurm's chunkSize): one Slurm array task runs elements first..end-1 of its
// array on a pool of threads (cpusPerTask), each element a job of its own, as on the LocalExecutor:
// its own result file (written only if none is there: a cancel may have written one first), its own
// logs, its own failure. An element that has a result (an earlier run of this pack, or a cancel) is
// skipped, so a requeued pack goes on after what is done; a running element whose result appears
// (it was cancelled) is stopped.
import fs from 'node:fs'
import { readResult, writeEndedResult, type SubmissionRecord } from '../lib/core/format.js'
import { WorkerCrashError } from '../lib/core/job-errors.js'
import { makeJobId, resultsPath } from '../lib/core/paths.js'
import type { RunRequest } from '../lib/core/protocol.js'
import { jobPool } from '../lib/local/pool.js'

/** How often the running elements are looked at for a cancel (their result file appearing). */
const CANCEL_POLL_MS = 1000

export interface PackOptions {
  submitted: string
  sub: SubmissionRecord
  /** elements per pack, and which pack this is */
  pack: number
  packIndex: number
  threads: number
  restarts: number
}

/** Runs the pack's elements; resolves with how many failed (or were stopped by a crash). */
export async function runPack(opts: PackOptions): Promise<number> {
  const { sub, pack } = opts
  const first = opts.packIndex * pack
  const end = Math.min(sub.args.length, first + pack)
  if (first >= end) throw new Error(`pack ${opts.packIndex} of ${pack} elements is past the end of array ${sub.arrayId} (${sub.args.length} elements)`)
  const pool = jobPool(opts.threads)
  const resultFile = (i: number) => resultsPath(sub.folder, sub.arrayId, true, i, 1, 0)
  const running = new Map<number, AbortController>()
  const cancels = setInterval(() => {
    for (const [i, stop] of running) if (fs.existsSync(resultFile(i))) stop.abort()
  }, CANCEL_POLL_MS)
  let failures = 0
  try {
    await new Promise<void>((resolve) => {
      let next = first
      const launch = () => {
        while (running.size < opts.threads && next < end) {
          const i = next++
          if (hasResult(resultFile(i), sub.nonce)) continue
          const stop = new AbortController()
          running.set(i, stop)
          const req: RunRequest = {
            submitted: opts.submitted,
            nonce: sub.nonce,
            first: i,
            count: 1,
            task: 0,
            capture: 'files',
            guard: true,
            resume: true,
            restarts: opts.restarts,
            exclusive: true,
          }
          pool
            .run(req, { signal: stop.signal })
            .then(
              (reply) => {
                if (reply.failures > 0) failures++
              },
              (e: Error) => {
                if (stop.signal.aborted) return // cancelled: its result is the canceller's
                failures++
                crashed(sub, i, e)
              },
            )
            .finally(() => {
              running.delete(i)
              launch()
            })
        }
        if (next >= end && running.size === 0) resolve()
      }
      launch()
    })
  } finally {
    clearInterval(cancels)
    await pool.destroy()
  }
  return failures
}

/** A result of this submission is there (an older job's with the same id was moved aside at submit). */
function hasResult(file: string, nonce: string): boolean {
  if (!fs.existsSync(file)) return false
  try {
    return readResult(file).nonce === nonce
  } catch {
    return false
  }
}

/** The thread running element i died (out of memory...): the element fails, saying so. */
function crashed(sub: SubmissionRecord, i: number, e: Error): void {
  const jobId = makeJobId(sub.arrayId, i)
  const error = new WorkerCrashError(`the thread running job ${jobId} died: ${e.message}`)
  writeEndedResult(sub, i, 0, 'FAILED', error, true)
  console.error(`submitit-ts worker: ${error.message}`)
}
