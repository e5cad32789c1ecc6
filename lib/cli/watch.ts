// submitit-ts watch <folder> <id>: the progress of an array (or job) from another shell, until it ends.
import { monitorJobs } from '../helpers/monitor.js'
import { CliError, jobsOf, resolveId, type Io } from './common.js'

export async function watch(folder: string, id: string, options: { interval?: string }, io: Io): Promise<number> {
  const intervalMs = options.interval === undefined ? undefined : Number(options.interval) * 1000
  if (intervalMs !== undefined && !(intervalMs > 0)) throw new CliError(`--interval takes seconds, not '${options.interval}'`, 2)
  const jobs = jobsOf(folder, resolveId(folder, id))
  // a terminal gets the bar redrawn in place; a pipe or a file one line per interval
  const stream = {
    isTTY: process.stdout.isTTY === true,
    columns: process.stdout.columns,
    write: (s: string) => {
      io.out(s.replace(/\n$/, ''))
      return true
    },
  }
  if (stream.isTTY) stream.write = (s: string) => process.stdout.write(s)
  const summary = await monitorJobs(jobs, { stream, intervalMs })
  return summary.failed.length === 0 ? 0 : 1
}
