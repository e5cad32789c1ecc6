// status, wait, result, logs and cancel: on job ids and on array ids (all their elements). A whole
// array is read in bulk (one listing pass, each result file once: see lib/core/info.ts), never one
// attached job per element polling on its own; single jobs through attachJob, as any other process.
import fs from 'node:fs'
import path from 'node:path'
import { inspect } from 'node:util'
import { attachJob, unfinishedState } from '../core/attach.js'
import { getBackend } from '../core/backends.js'
import { FailedJobError } from '../core/errors.js'
import { folderResolver, jobInfo } from '../core/info.js'
import { isFinalState, type Job } from '../core/job.js'
import { readReruns, rerunChain, rerunMap } from '../core/rerun.js'
import { decodeValue } from '../core/values.js'
import {
  arrayStatus,
  CliError,
  counts,
  countsText,
  duration,
  elementId,
  iso,
  jobsOf,
  refreshScheduler,
  resolveId,
  type ArrayStatus,
  type Io,
  type Target,
} from './common.js'

/** 'STATE' or 'STATE (reason)': Slurm's pending reason, e.g. 'PENDING (Resources)'. */
function stateText(state: string, reason: string | undefined | null): string {
  return reason ? `${state} (${reason})` : state
}

/** How many non-completed elements an array's status shows without --all. */
const SHOWN = 20

/** From the first start to the last end of an array's timed elements, or null. */
function elapsedOf(st: ArrayStatus): { first: number; last: number } | null {
  let first = Infinity
  let last = -Infinity
  for (let i = 0; i < st.scan.size; i++) {
    if (st.scan.startedAt[i] < first) first = st.scan.startedAt[i]
    if (st.scan.endedAt[i] > last) last = st.scan.endedAt[i]
  }
  return Number.isFinite(first) && Number.isFinite(last) ? { first, last } : null
}

/** Single jobs of the targets, attached, with one scheduler call for the unfinished ones. */
async function singles(folder: string, targets: Target[]): Promise<Map<Target, Job<unknown>>> {
  const jobs = new Map<Target, Job<unknown>>()
  for (const t of targets) if (!t.whole) jobs.set(t, jobsOf(folder, t)[0])
  const open = new Set<string>()
  for (const [t, job] of jobs) if (!isFinalState(job.state)) open.add(t.record.backend) // registers them with their watcher
  for (const backend of open) await refreshScheduler(backend)
  return jobs
}

export async function status(folder: string, ids: string[], options: { json?: boolean; all?: boolean }, io: Io): Promise<number> {
  const targets = ids.map((id) => resolveId(folder, id))
  const json: { arrays: unknown[]; jobs: unknown[] } = { arrays: [], jobs: [] }
  const lines: string[][] = []
  const single = await singles(folder, targets)
  for (const target of targets) {
    const links = readReruns(target.record, folder)
    const reruns = rerunMap(links)
    const origins = links?.rerunOf?.jobs ?? {}
    /** "rerun as B_0", or "rerun as B_0 → C_0" when that one was rerun too */
    const rerunText = (jobId: string) => {
      const chain = rerunChain(folder, jobId, reruns)
      return chain.length ? [`rerun as ${chain.join(' → ')}`] : []
    }
    const job = single.get(target)
    if (job) {
      const info = jobInfo(job)
      if (info.startedAt === undefined && isFinalState(info.state)) {
        // killed before it could record its timings: the scheduler may know them (Slurm: sacct)
        const t = (await getBackend(target.record.backend)?.timings?.(target.record, [job.jobId]))?.get(job.jobId)
        if (t?.startedAt !== undefined && t.endedAt !== undefined) Object.assign(info, { ...t, durationMs: t.endedAt - t.startedAt })
      }
      const rerunAs = reruns.get(job.jobId)
      const where =
        info.host === undefined ? null : target.record.backend === 'slurm' || info.thread === undefined ? info.host : `${info.host}/thread ${info.thread}`
      json.jobs.push({
        jobId: job.jobId,
        state: info.state,
        reason: info.reason ?? null,
        startedAt: iso(info.startedAt ?? NaN),
        endedAt: iso(info.endedAt ?? NaN),
        durationMs: info.durationMs ?? null,
        host: info.host ?? null,
        thread: info.thread ?? null,
        where,
        rerunAs: rerunAs ?? null,
        rerunOf: origins[job.jobId] ?? null,
      })
      lines.push([
        job.jobId,
        stateText(info.state, info.reason),
        info.durationMs === undefined ? '-' : duration(info.durationMs),
        where ?? '-',
        ...rerunText(job.jobId),
        ...(origins[job.jobId] ? [`rerun of ${origins[job.jobId]}`] : []),
      ])
      continue
    }
    const st = await arrayStatus(target.record, folder)
    const { scan, states, reasons } = st
    const c = counts(states)
    const element = (i: number) => {
      const jobId = elementId(scan.record, i)
      return {
        jobId,
        state: states[i],
        reason: reasons.get(i) ?? null,
        startedAt: iso(scan.startedAt[i]),
        endedAt: iso(scan.endedAt[i]),
        durationMs: Number.isNaN(scan.startedAt[i]) ? null : scan.endedAt[i] - scan.startedAt[i],
        where: scan.where[i] ?? null,
        rerunAs: reruns.get(jobId) ?? null,
        rerunOf: origins[jobId] ?? null,
      }
    }
    const span = elapsedOf(st)
    // every element for --json; the text shows the jobs that did not complete (--all: every one)
    if (options.json) {
      json.arrays.push({
        arrayId: scan.record.arrayId,
        jobs: scan.size,
        rerunOf: links?.rerunOf?.arrayId ?? null,
        counts: c,
        backend: scan.record.backend,
        elapsedMs: span ? span.last - span.first : null,
        elements: Array.from({ length: scan.size }, (_, i) => element(i)),
      })
      continue
    }
    lines.push([scan.record.arrayId, `${scan.size} jobs: ${countsText(c)}`, ...(span ? [`elapsed ${duration(span.last - span.first)}`] : [])])
    const shown: number[] = []
    for (let i = 0; i < scan.size; i++) if (options.all || states[i] !== 'COMPLETED') shown.push(i)
    for (const e of shown.slice(0, options.all ? Infinity : SHOWN).map(element)) {
      lines.push([
        `  ${e.jobId}`,
        stateText(e.state, e.reason),
        e.durationMs === null ? '-' : duration(e.durationMs),
        e.where ?? '-',
        ...(e.rerunAs ? rerunText(e.jobId) : []),
        ...(e.rerunOf ? [`rerun of ${e.rerunOf}`] : []),
      ])
    }
    if (!options.all && shown.length > SHOWN) lines.push([`  … ${shown.length - SHOWN} more (--all shows every job)`])
  }
  if (options.json) io.out(JSON.stringify(json, null, 2))
  else for (const row of lines) io.out(row.join('\t'))
  return 0
}

/**
 * Waits until every element of an array has ended; returns their final states. A backend watched
 * through its files (local) is looked at by rescanning the array (backoff to 2 s), not by one
 * poller per element; one with a watcher of its own (Slurm) has its unfinished jobs waited on (its
 * poller asks the scheduler once for all of them), and says which can never start.
 */
export async function waitArray(record: Target['record'], folder: string, errors = new Map<number, string>()): Promise<ArrayStatus> {
  let delay = 100
  for (;;) {
    const st = await arrayStatus(record, folder)
    const open: number[] = []
    for (let i = 0; i < st.scan.size; i++) if (!isFinalState(st.states[i]) && !errors.has(i)) open.push(i)
    if (open.length === 0) return st
    if (unfinishedState(record) === undefined) {
      await Promise.all(
        open.map((i) =>
          attachJob(folder, elementId(record, i))
            .wait()
            .catch((e: Error) => errors.set(i, e.message)),
        ),
      )
      continue
    }
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(2000, delay * 1.5)
  }
}

export async function wait(folder: string, ids: string[], options: { json?: boolean }, io: Io): Promise<number> {
  const targets = ids.map((id) => resolveId(folder, id))
  let ok = true
  const results: { jobId: string; state: string; reason: string | null; error: string | null }[] = []
  for (const target of targets) {
    if (!target.whole) {
      const job = jobsOf(folder, target)[0]
      let error: string | undefined
      try {
        await job.wait()
      } catch (e) {
        // e.g. Slurm says it can never start: say why rather than wait forever
        error = (e as Error).message
        io.err(`${job.jobId}: ${error}`)
      }
      ok &&= error === undefined && job.state === 'COMPLETED'
      results.push({ jobId: job.jobId, state: job.state, reason: job.reason ?? null, error: error ?? null })
      if (!options.json) io.out(`${job.jobId}\t${stateText(job.state, job.reason)}`)
      continue
    }
    const errors = new Map<number, string>()
    const st = await waitArray(target.record, folder, errors)
    for (const [i, error] of errors) io.err(`${elementId(target.record, i)}: ${error}`)
    for (let i = 0; i < st.scan.size; i++) {
      const error = errors.get(i)
      ok &&= error === undefined && st.states[i] === 'COMPLETED'
      results.push({ jobId: elementId(target.record, i), state: st.states[i], reason: st.reasons.get(i) ?? null, error: error ?? null })
    }
    if (!options.json) io.out(`${target.record.arrayId}\t${st.scan.size} jobs: ${countsText(counts(st.states))}`)
  }
  if (options.json) io.out(JSON.stringify({ ok, jobs: results }, null, 2))
  return ok ? 0 : 1
}

export async function cancel(folder: string, ids: string[], options: { json?: boolean }, io: Io): Promise<number> {
  const targets = ids.map((id) => resolveId(folder, id))
  const out: { jobId: string; state: string }[] = []
  let code = 0
  for (const target of targets) {
    let jobs: Job<unknown>[]
    if (target.whole) {
      // only the unfinished ones: a finished job has nothing to cancel
      const st = await arrayStatus(target.record, folder)
      const open: Job<unknown>[] = []
      for (let i = 0; i < st.scan.size; i++) {
        if (isFinalState(st.states[i])) out.push({ jobId: elementId(target.record, i), state: st.states[i] })
        else open.push(attachJob(folder, elementId(target.record, i)))
      }
      jobs = open
    } else jobs = jobsOf(folder, target)
    // one message per reason, not one per job (a 10,000-job array run by another process)
    const failures = new Map<string, { message: string; jobs: string[] }>()
    const note = (job: Job<unknown>, e: unknown) => {
      const message = (e as Error).message
      const key = message.split(job.jobId).join('\0')
      const group = failures.get(key) ?? { message, jobs: [] }
      group.jobs.push(job.jobId)
      failures.set(key, group)
    }
    const bulk = getBackend(target.record.backend)?.cancelJobs
    if (bulk && jobs.length > 1) {
      // one scheduler call for all of them (scancel A_1 A_2 ...), not one per job
      await bulk(target.record, jobs).catch((e) => note(jobs[0], e))
    } else {
      await Promise.all(jobs.map((job) => job.cancel().catch((e) => note(job, e))))
    }
    for (const { message, jobs: failed } of failures.values()) {
      io.err(failed.length === 1 ? message : `${failed.length} jobs (${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ', …' : ''}): ${message}`)
      code = 1
    }
    for (const job of jobs) out.push({ jobId: job.jobId, state: job.state })
  }
  out.sort((a, b) => a.jobId.localeCompare(b.jobId, undefined, { numeric: true }))
  if (options.json) io.out(JSON.stringify({ jobs: out }, null, 2))
  else for (const j of out) io.out(`${j.jobId}\t${j.state}`)
  return code
}

/** The first line of what a stored error says: "ValidationError: bad input". */
function errorLine(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.split('\n')[0]
  return `${inspect(error, { depth: 2, breakLength: Infinity })} (thrown, not an Error)`.split('\n')[0]
}

const bigints = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)

export async function result(folder: string, ids: string[], options: { json?: boolean }, io: Io): Promise<number> {
  const targets = ids.map((id) => resolveId(folder, id))
  const many = targets.length > 1 || targets.some((t) => t.whole)
  const out: { jobId: string; state: string; value?: unknown; error?: string }[] = []
  let code = 0
  const show = (value: unknown) => inspect(value, { depth: 6, colors: false, ...(many ? { breakLength: Infinity } : {}) })
  for (const target of targets) {
    if (!target.whole) {
      const job = jobsOf(folder, target)[0]
      try {
        const values = await job.results()
        const value = job.numTasks === 1 ? values[0] : values
        out.push({ jobId: job.jobId, state: job.state, value })
        if (!options.json) io.out(many ? `${job.jobId}\t${show(value)}` : show(value))
      } catch (e) {
        const message = e instanceof FailedJobError ? e.message : String(e)
        out.push({ jobId: job.jobId, state: job.state, error: message })
        if (!options.json) io.err(many ? `${job.jobId}\t${message.split('\n')[0]}` : message)
        code = 1
      }
      continue
    }
    // a whole array: its values from its result files, read once each (a multi-task job's: attached)
    const errors = new Map<number, string>()
    await waitArray(target.record, folder, errors)
    const st = await arrayStatus(target.record, folder, { values: true })
    for (let i = 0; i < st.scan.size; i++) {
      const jobId = elementId(target.record, i)
      const state = st.states[i]
      const stored = st.scan.values?.[i]
      if (state === 'COMPLETED' && stored && st.scan.numTasks === 1) {
        const value = stored.marked ? await decodeValue(stored.value) : stored.value
        out.push({ jobId, state, value })
        if (!options.json) io.out(`${jobId}\t${show(value)}`)
        continue
      }
      if (state === 'COMPLETED') {
        const value = await attachJob(folder, jobId).results()
        out.push({ jobId, state, value })
        if (!options.json) io.out(`${jobId}\t${show(value)}`)
        continue
      }
      code = 1
      const failure = st.scan.errors.get(i)
      let line: string
      if (failure) {
        const error = failure.marked ? await decodeValue(failure.error) : failure.error
        line = `${state === 'FAILED' ? 'failed' : `ended as ${state}`}: ${errorLine(error)}`
      } else {
        const why = errors.get(i) ?? st.reasons.get(i)
        line = `ended as ${state} without a result${why ? ` (${why})` : ''}`
      }
      out.push({ jobId, state, error: line })
      if (!options.json) io.err(`${jobId}\t${line}`)
    }
  }
  if (options.json) io.out(JSON.stringify({ jobs: out }, bigints, 2))
  else if (code !== 0 && targets.some((t) => t.whole)) io.err(`(\`submitit-ts result <folder> <jobId>\` gives a job's error in full, with its remote stack)`)
  return code
}

/** Reads a log, or null when the job has written none. */
function readLog(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null
    throw e
  }
}

export async function logs(folder: string, ids: string[], options: { json?: boolean; err?: boolean; task?: string }, io: Io): Promise<number> {
  const task = Number(options.task ?? 0)
  if (!/^\d+$/.test(options.task ?? '0')) throw new CliError(`--task takes a task rank (0, 1, ...), not '${options.task}'`, 2)
  const targets = ids.map((id) => resolveId(folder, id))
  const what = options.err ? 'stderr' : 'stdout'
  const out: { jobId: string; task: number; text: string | null }[] = []
  const many = targets.length > 1 || targets.some((t) => t.whole)
  for (const target of targets) {
    const { record } = target
    const numTasks = record.params.tasksPerNode * record.params.nodes
    if (task >= numTasks) throw new CliError(`the jobs of ${record.arrayId} have tasks 0..${numTasks - 1}, not ${task}`)
    const indices = target.whole ? Array.from({ length: record.args.length }, (_, i) => i) : [target.index ?? 0]
    // every job's log file from the template; a job's own folder is read only when its parent's listing (made once) holds it
    const folderOf = folderResolver(folder)
    const listed = new Map<string, Set<string> | null>()
    const exists = (dir: string) => {
      const parent = path.dirname(dir)
      let names = listed.get(parent)
      if (names === undefined) {
        try {
          names = new Set(fs.readdirSync(parent))
        } catch {
          names = null
        }
        listed.set(parent, names)
      }
      return names?.has(path.basename(dir)) === true
    }
    for (const i of indices) {
      const jobId = elementId(record, record.isArray ? i : 0)
      const dir = folderOf({ j: jobId, A: record.arrayId, a: record.isArray ? String(i) : '', t: String(task) })
      const text = exists(dir) ? readLog(path.join(dir, `${jobId}_${task}_log.${options.err ? 'err' : 'out'}`)) : null
      out.push({ jobId, task, text })
      if (options.json) continue
      if (many) {
        // as tail does with several files; jobs that printed nothing are left out
        if (text !== null) io.out(`==> ${jobId} <==\n${text.replace(/\n$/, '')}`)
      } else if (text === null) io.err(`job ${jobId} (task ${task}) has written no ${what}`)
      else io.out(text.replace(/\n$/, ''))
    }
  }
  if (options.json) io.out(JSON.stringify({ stream: what, jobs: out }, null, 2))
  return 0
}
