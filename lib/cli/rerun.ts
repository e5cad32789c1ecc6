// submitit-ts rerun <folder> <id>...: the failed, cancelled or timed-out jobs again, same task and
// arguments, same backend; `--set timeoutMin=30` changes a parameter. The jobs are chosen and
// submitted holding the array's rerun lock: two reruns at once never rerun a job twice. Local jobs
// run in the process that submits them: this command then stays until they end, showing their progress.
import { isFinalState, type Job } from '../core/job.js'
import { readReruns, rerun, rerunMap, withRerunLock } from '../core/rerun.js'
import { monitorJobs } from '../helpers/monitor.js'
import { arrayStatus, CliError, elementId, jobsOf, refreshScheduler, resolveId, runsInSubmitter, type Io, type Target } from './common.js'

/** name=value; the value as JSON when it is (30, true, "x"), else as text. */
export function parseSet(items: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {}
  for (const item of items) {
    const eq = item.indexOf('=')
    if (eq <= 0) throw new CliError(`--set takes name=value (e.g. --set timeoutMin=30), not '${item}'`, 2)
    const text = item.slice(eq + 1)
    let value: unknown = text
    try {
      value = JSON.parse(text)
    } catch {
      /* a plain string */
    }
    params[item.slice(0, eq)] = value
  }
  return params
}

interface Chosen {
  jobs: Job<unknown>[]
  /** already rerun, left out: "A_3 (rerun as B_0)" */
  skipped: string[]
}

/** The jobs of a target to rerun: ended, not completed (unless --all), not rerun already (unless --all). */
async function choose(folder: string, target: Target, all: boolean): Promise<Chosen> {
  const done = rerunMap(readReruns(target.record, folder)) // read under the lock: another rerun's links are in
  const chosen: Chosen = { jobs: [], skipped: [] }
  if (target.whole) {
    const { states } = await arrayStatus(target.record, folder)
    const jobs = jobsOf(folder, target)
    states.forEach((s, i) => {
      const jobId = elementId(target.record, i)
      if (!isFinalState(s) || (s === 'COMPLETED' && !all)) return
      if (done.has(jobId) && !all) chosen.skipped.push(`${jobId} (rerun as ${done.get(jobId)})`)
      else chosen.jobs.push(jobs[i])
    })
    return chosen
  }
  const job = jobsOf(folder, target)[0]
  void job.state
  await refreshScheduler(target.record.backend)
  if (!isFinalState(job.state)) throw new CliError(`job ${job.jobId} is ${job.state}: only a job that has ended can be rerun (cancel it first)`)
  if (job.state === 'COMPLETED' && !all) throw new CliError(`job ${job.jobId} COMPLETED: nothing to rerun (--all reruns it anyway)`)
  if (done.has(job.jobId) && !all)
    throw new CliError(`job ${job.jobId} was rerun already as ${done.get(job.jobId)}: rerun that one, or --all reruns this one again`)
  chosen.jobs.push(job)
  return chosen
}

export async function rerunCommand(folder: string, ids: string[], options: { set?: string[]; all?: boolean; json?: boolean }, io: Io): Promise<number> {
  const params = parseSet(options.set ?? [])
  const targets = ids.map((id) => resolveId(folder, id))
  const pairs: { from: Job<unknown>; to: Job<unknown>; backend: string }[] = []
  const skipped: string[] = []
  for (const target of targets) {
    await withRerunLock(
      target.record,
      folder,
      async () => {
        const chosen = await choose(folder, target, options.all === true)
        skipped.push(...chosen.skipped)
        if (chosen.jobs.length === 0) return
        let fresh: Job<unknown>[]
        try {
          fresh = await rerun(chosen.jobs, params, { locked: true })
        } catch (e) {
          throw new CliError((e as Error).message, (e as Error).name === 'ParameterError' ? 2 : 1)
        }
        chosen.jobs.forEach((from, k) => pairs.push({ from, to: fresh[k], backend: target.record.backend }))
      },
      (holder) => io.err(`waiting for another rerun of ${target.record.arrayId} (${holder}) to finish submitting…`),
    )
  }
  if (skipped.length > 0)
    io.err(
      `already rerun, left out (rerun the new jobs, or --all): ${skipped.slice(0, 10).join(', ')}${skipped.length > 10 ? `, … (${skipped.length} in all)` : ''}`,
    )
  if (options.json) io.out(JSON.stringify({ jobs: pairs.map((p) => ({ from: p.from.jobId, jobId: p.to.jobId })) }, null, 2))
  else for (const p of pairs) io.out(`${p.from.jobId}\t→ ${p.to.jobId}`)
  if (pairs.length === 0) {
    if (!options.json) io.err('nothing to rerun: no job failed, was cancelled or timed out')
    return 0
  }
  const local = pairs.filter((p) => runsInSubmitter(p.backend)).map((p) => p.to)
  if (local.length > 0) {
    // they run in this process, as any local job runs in its submitter's
    io.err(`running ${local.length} local job${local.length === 1 ? '' : 's'} here; Ctrl-C stops them`)
    const summary = await monitorJobs(local)
    return summary.failed.length === 0 ? 0 : 1
  }
  return 0
}
