// status, wait, result, logs and cancel: on job ids and on array ids (all their elements).
import { inspect } from 'node:util'
import { FailedJobError } from '../core/errors.js'
import { jobInfo } from '../core/info.js'
import type { Job } from '../core/job.js'
import { makeJobId } from '../core/paths.js'
import { readReruns, rerunMap } from '../core/rerun.js'
import { arrayStatus, CliError, counts, countsText, duration, iso, jobsOf, refreshScheduler, resolveId, type Io, type Target } from './common.js'

/** 'STATE' or 'STATE (reason)': Slurm's pending reason, e.g. 'PENDING (Resources)'. */
function stateText(job: Job<unknown>): string {
  const reason = job.reason
  return reason ? `${job.state} (${reason})` : job.state
}

/** How many non-completed elements an array's status shows without --all. */
const SHOWN = 20

export async function status(folder: string, ids: string[], options: { json?: boolean; all?: boolean }, io: Io): Promise<number> {
  const targets = ids.map((id) => resolveId(folder, id))
  const json: { arrays: unknown[]; jobs: unknown[] } = { arrays: [], jobs: [] }
  const lines: string[][] = []
  // single jobs first, one scheduler call for all of them
  const single = targets.filter((t) => !t.whole).map((t) => ({ t, job: jobsOf(folder, t)[0] }))
  for (const { job } of single) void job.state // registers the unfinished ones with their watcher
  for (const backend of new Set(single.filter(({ job }) => !job.done()).map(({ t }) => t.record.backend))) await refreshScheduler(backend)
  for (const target of targets) {
    const reruns = rerunMap(readReruns(target.record))
    if (!target.whole) {
      const job = single.find((s) => s.t === target)!.job
      const info = jobInfo(job)
      const rerunAs = reruns.get(job.jobId)
      json.jobs.push({
        jobId: job.jobId,
        state: info.state,
        reason: info.reason ?? null,
        startedAt: iso(info.startedAt ?? NaN),
        endedAt: iso(info.endedAt ?? NaN),
        durationMs: info.durationMs ?? null,
        host: info.host ?? null,
        thread: info.thread ?? null,
        rerunAs: rerunAs ?? null,
      })
      lines.push([
        job.jobId,
        stateText(job),
        info.durationMs === undefined ? '-' : duration(info.durationMs),
        info.host === undefined ? '-' : target.record.backend === 'slurm' ? info.host : `${info.host}/thread ${info.thread}`,
        ...(rerunAs ? [`rerun as ${rerunAs}`] : []),
      ])
      continue
    }
    const { scan, states, reasons } = await arrayStatus(target.record)
    const c = counts(states)
    const elements = []
    for (let i = 0; i < scan.size; i++) {
      const jobId = makeJobId(scan.record.arrayId, i)
      elements.push({
        jobId,
        state: states[i],
        reason: reasons.get(i) ?? null,
        startedAt: iso(scan.startedAt[i]),
        endedAt: iso(scan.endedAt[i]),
        durationMs: Number.isNaN(scan.startedAt[i]) ? null : scan.endedAt[i] - scan.startedAt[i],
        where: scan.where[i] ?? null,
        rerunAs: reruns.get(jobId) ?? null,
      })
    }
    json.arrays.push({ arrayId: scan.record.arrayId, jobs: scan.size, counts: c, backend: scan.record.backend, elements })
    lines.push([scan.record.arrayId, `${scan.size} jobs: ${countsText(c)}`])
    const shown = options.all ? elements : elements.filter((e) => e.state !== 'COMPLETED')
    for (const e of shown.slice(0, options.all ? Infinity : SHOWN)) {
      lines.push([
        `  ${e.jobId}`,
        e.reason ? `${e.state} (${e.reason})` : e.state,
        e.durationMs === null ? '-' : duration(e.durationMs),
        e.where ?? '-',
        ...(e.rerunAs ? [`rerun as ${e.rerunAs}`] : []),
      ])
    }
    if (!options.all && shown.length > SHOWN) lines.push([`  … ${shown.length - SHOWN} more (--all shows every job)`])
  }
  if (options.json) io.out(JSON.stringify(json, null, 2))
  else for (const row of lines) io.out(row.join('\t'))
  return 0
}

/** Every job the targets name, an array's elements in order. */
function allJobs(folder: string, targets: Target[]): Job<unknown>[] {
  return targets.flatMap((t) => jobsOf(folder, t))
}

export async function wait(folder: string, ids: string[], options: { json?: boolean }, io: Io): Promise<number> {
  const targets = ids.map((id) => resolveId(folder, id))
  let ok = true
  const results: { jobId: string; state: string; reason: string | null; error?: string }[] = []
  for (const target of targets) {
    const jobs = jobsOf(folder, target)
    for (const job of jobs) {
      let error: string | undefined
      try {
        await job.wait()
      } catch (e) {
        // e.g. Slurm says it can never start: say why rather than wait forever
        error = (e as Error).message
        io.err(`${job.jobId}: ${error}`)
        ok = false
      }
      ok &&= job.state === 'COMPLETED'
      results.push({ jobId: job.jobId, state: job.state, reason: job.reason ?? null, ...(error ? { error } : {}) })
      if (!target.whole && !options.json) io.out(`${job.jobId}\t${stateText(job)}`)
    }
    if (target.whole && !options.json) io.out(`${target.record.arrayId}\t${jobs.length} jobs: ${countsText(counts(jobs.map((j) => j.state)))}`)
  }
  if (options.json) io.out(JSON.stringify({ ok, jobs: results }, null, 2))
  return ok ? 0 : 1
}

export async function cancel(folder: string, ids: string[], options: { json?: boolean }, io: Io): Promise<number> {
  const jobs = allJobs(
    folder,
    ids.map((id) => resolveId(folder, id)),
  )
  // all at once: one scancel for the jobs of a scheduler, and one wait for all of them (one after
  // the other, each job waited for the next poll: 4.5 minutes for an array of 60 on the test cluster)
  const errors = await Promise.all(
    jobs.map((job) =>
      job.cancel().then(
        () => undefined,
        (e: Error) => e,
      ),
    ),
  )
  const out: { jobId: string; state: string }[] = []
  let code = 0
  jobs.forEach((job, i) => {
    const e = errors[i]
    if (e) {
      io.err(`${job.jobId}: ${e.message}`)
      code = 1
    }
    out.push({ jobId: job.jobId, state: job.state })
  })
  if (options.json) io.out(JSON.stringify({ jobs: out }, null, 2))
  else for (const j of out) io.out(`${j.jobId}\t${j.state}`)
  return code
}

export async function result(folder: string, ids: string[], options: { json?: boolean }, io: Io): Promise<number> {
  const jobs = allJobs(
    folder,
    ids.map((id) => resolveId(folder, id)),
  )
  const many = jobs.length > 1
  const out: { jobId: string; state: string; value?: unknown; error?: string }[] = []
  let code = 0
  for (const job of jobs) {
    try {
      const values = await job.results()
      const value = job.numTasks === 1 ? values[0] : values
      out.push({ jobId: job.jobId, state: job.state, value })
      if (!options.json)
        io.out(many ? `${job.jobId}\t${inspect(value, { depth: 6, colors: false, breakLength: Infinity })}` : inspect(value, { depth: 6, colors: false }))
    } catch (e) {
      const message = e instanceof FailedJobError ? e.message : String(e)
      out.push({ jobId: job.jobId, state: job.state, error: message })
      if (!options.json) io.err(many ? `${job.jobId}\t${message.split('\n')[0]}` : message)
      code = 1
    }
  }
  if (options.json) io.out(JSON.stringify({ jobs: out }, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2))
  return code
}

export async function logs(folder: string, ids: string[], options: { json?: boolean; err?: boolean; task?: string }, io: Io): Promise<number> {
  const task = Number(options.task ?? 0)
  if (!Number.isInteger(task) || task < 0) throw new CliError(`--task takes a task rank (0, 1, ...), not '${options.task}'`, 2)
  const jobs = allJobs(
    folder,
    ids.map((id) => resolveId(folder, id)),
  )
  const what = options.err ? 'stderr' : 'stdout'
  const out: { jobId: string; task: number; text: string | null }[] = []
  for (const job of jobs) {
    if (task >= job.numTasks) throw new CliError(`job ${job.jobId} has tasks 0..${job.numTasks - 1}, not ${task}`)
    const text = options.err ? job.stderr(task) : job.stdout(task)
    out.push({ jobId: job.jobId, task, text })
    if (options.json) continue
    if (jobs.length > 1) {
      // as tail does with several files; jobs that printed nothing are left out
      if (text !== null) io.out(`==> ${job.jobId} <==\n${text.replace(/\n$/, '')}`)
    } else if (text === null) io.err(`job ${job.jobId} (task ${task}) has written no ${what}`)
    else io.out(text.replace(/\n$/, ''))
  }
  if (options.json) io.out(JSON.stringify({ stream: what, jobs: out }, null, 2))
  return 0
}
