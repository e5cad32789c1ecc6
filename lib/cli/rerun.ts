// submitit-ts rerun <folder> <id>...: the failed, cancelled or timed-out jobs again, same task and
// arguments, same backend; `--set timeoutMin=30` changes a parameter. Local jobs run in the process
// that submits them: this command then stays until they end, showing their progress.
import { isFinalState, type Job } from '../core/job.js'
import { makeJobId } from '../core/paths.js'
import { readReruns, rerun, rerunMap } from '../core/rerun.js'
import { monitorJobs } from '../helpers/monitor.js'
import { arrayStatus, CliError, jobsOf, refreshScheduler, resolveId, type Io } from './common.js'

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

export async function rerunCommand(folder: string, ids: string[], options: { set?: string[]; all?: boolean; json?: boolean }, io: Io): Promise<number> {
  const params = parseSet(options.set ?? [])
  const chosen: Job<unknown>[] = []
  const skipped: string[] = []
  const backends: string[] = [] // of each chosen job
  for (const id of ids) {
    const target = resolveId(folder, id)
    const done = rerunMap(readReruns(target.record))
    if (target.whole) {
      const { states } = await arrayStatus(target.record)
      const jobs = jobsOf(folder, target)
      states.forEach((s, i) => {
        const jobId = makeJobId(target.record.arrayId, i)
        if (!isFinalState(s) || (s === 'COMPLETED' && !options.all)) return
        if (done.has(jobId) && !options.all) skipped.push(`${jobId} (rerun as ${done.get(jobId)})`)
        else {
          backends.push(target.record.backend)
          chosen.push(jobs[i])
        }
      })
    } else {
      const job = jobsOf(folder, target)[0]
      void job.state
      await refreshScheduler(target.record.backend)
      if (!isFinalState(job.state)) throw new CliError(`job ${job.jobId} is ${job.state}: only a job that has ended can be rerun (cancel it first)`)
      if (job.state === 'COMPLETED' && !options.all) throw new CliError(`job ${job.jobId} COMPLETED; --all reruns it anyway`)
      backends.push(target.record.backend)
      chosen.push(job)
    }
  }
  if (skipped.length > 0)
    io.err(`already rerun, left out (rerun the new jobs, or --all): ${skipped.slice(0, 10).join(', ')}${skipped.length > 10 ? ', …' : ''}`)
  if (chosen.length === 0) {
    if (options.json) io.out(JSON.stringify({ jobs: [] }))
    else io.err('nothing to rerun: no job failed, was cancelled or timed out')
    return 0
  }
  let fresh: Job<unknown>[]
  try {
    fresh = await rerun(chosen, params)
  } catch (e) {
    throw new CliError((e as Error).message, (e as Error).name === 'ParameterError' ? 2 : 1)
  }
  if (options.json) io.out(JSON.stringify({ jobs: chosen.map((j, k) => ({ from: j.jobId, jobId: fresh[k].jobId })) }, null, 2))
  else for (let k = 0; k < chosen.length; k++) io.out(`${chosen[k].jobId}\t→ ${fresh[k].jobId}`)
  const local = fresh.filter((_, k) => backends[k] !== 'slurm')
  if (local.length > 0) {
    // they run in this process, as any local job runs in its submitter's
    io.err(`running ${local.length} local job${local.length === 1 ? '' : 's'} here; Ctrl-C stops them`)
    const summary = await monitorJobs(local)
    return summary.failed.length === 0 ? 0 : 1
  }
  return 0
}
