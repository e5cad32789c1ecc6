// submitit-ts watch <folder> <id>: the progress of an array (or job) from another shell, until it
// ends. The array is rescanned in bulk (one listing pass, one scheduler call), never one poller per
// job; the display is monitorJobs' (a bar redrawn in place on a terminal, a line per interval elsewhere).
import { attachJob, unfinishedState } from '../core/attach.js'
import { isFinalState, type JobState } from '../core/job.js'
import { failedLine, type Progress, ProgressDisplay, type ProgressStream } from '../helpers/monitor.js'
import { arrayStatus, CliError, elementId, resolveId, type ArrayStatus, type Io } from './common.js'

export async function watch(folder: string, id: string, options: { interval?: string }, io: Io): Promise<number> {
  const intervalMs = options.interval === undefined ? undefined : Number(options.interval) * 1000
  if (intervalMs !== undefined && !(intervalMs > 0)) throw new CliError(`--interval takes seconds, not '${options.interval}'`, 2)
  const target = resolveId(folder, id)
  const { record } = target
  const only = target.whole ? undefined : (target.index ?? 0) // one element of an array (or the single job)
  const t0 = Date.now()
  let st: ArrayStatus = await arrayStatus(record, folder)
  const watched = only === undefined ? Array.from({ length: st.scan.size }, (_, i) => i) : [only]
  const indices = () => watched
  const finished = (i: number) => isFinalState(st.states[i]) || errors.has(i)
  const errors = new Map<number, string>()
  const before = indices().filter((i) => isFinalState(st.states[i])).length
  const progress = (): Progress => {
    const ended: Partial<Record<JobState, number>> = {}
    const pendingReasons: Record<string, number> = {}
    let done = 0
    let running = 0
    let pending = 0
    for (const i of indices()) {
      const s = st.states[i]
      if (isFinalState(s)) {
        done++
        ended[s] = (ended[s] ?? 0) + 1
      } else if (s === 'PENDING') {
        pending++
        const reason = st.reasons.get(i)
        if (reason) pendingReasons[reason] = (pendingReasons[reason] ?? 0) + 1
      } else running++
    }
    const elapsedS = (Date.now() - t0) / 1000
    const endedHere = Math.max(0, done - before)
    const rate = endedHere / Math.max(elapsedS, 1e-3)
    const total = indices().length
    return {
      total,
      done,
      ended,
      failed: done - (ended.COMPLETED ?? 0),
      running,
      pending,
      pendingReasons,
      rate,
      etaS: endedHere > 0 ? (total - done) / rate : undefined,
      elapsedS,
    }
  }
  // a terminal gets the bar redrawn in place; a pipe or a file one line per interval
  const stream: ProgressStream = process.stdout.isTTY
    ? { isTTY: true, columns: process.stdout.columns, write: (s: string) => process.stdout.write(s) }
    : { isTTY: false, write: (s: string) => io.out(s.replace(/\n$/, '')) }
  const display = new ProgressDisplay(stream, progress, intervalMs)
  // a backend with a watcher of its own (Slurm) says which jobs can never start: their wait rejects
  if (unfinishedState(record) === undefined) {
    for (const i of indices()) {
      if (!isFinalState(st.states[i])) {
        attachJob(folder, elementId(record, i))
          .wait()
          .catch((e: Error) => errors.set(i, e.message))
      }
    }
  }
  let interrupted = false
  let wake: (() => void) | undefined
  const onSigint = () => {
    interrupted = true
    wake?.()
  }
  process.once('SIGINT', onSigint) // Ctrl-C: the bar ends on its own line, the jobs go on
  let scanMs = 0
  try {
    while (!interrupted && !indices().every(finished)) {
      // a rescan costs what the array's size costs: it takes at most a fifth of the time
      await new Promise<void>((r) => {
        wake = r
        setTimeout(r, Math.min(2000, Math.max(250, 4 * scanMs)))
      })
      if (interrupted) break
      const scanStart = Date.now()
      st = await arrayStatus(record, folder)
      scanMs = Date.now() - scanStart
    }
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
  if (interrupted) {
    display.stop()
    io.err('interrupted: the jobs go on (submitit-ts watch again to follow them)')
    return 130
  }
  display.end()
  for (const [i, error] of errors) io.err(`${elementId(record, i)}: ${error}`)
  const bad = indices()
    .filter((i) => st.states[i] !== 'COMPLETED')
    .map((i) => `${elementId(record, i)} (${errors.has(i) ? 'never runs' : st.states[i]})`)
  if (bad.length > 0) io.err(failedLine(bad).replace(/\n$/, ''))
  return bad.length === 0 ? 0 : 1
}
