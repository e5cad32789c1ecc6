#!/usr/bin/env node
// The small CLI: look at jobs from their folder, from any shell, while they run or after.
//   submitit-ts status <folder> <jobId>...      state of each job
//   submitit-ts wait <folder> <jobId>...        wait until each has ended, print its state
//   submitit-ts result <folder> <jobId>         the job's value (exit 1 and the remote stack if it failed)
//   submitit-ts logs <folder> <jobId> [--err] [--task N]
//   submitit-ts cancel <folder> <jobId>...      scancel (a local job is cancelled by its own process)
// <folder> is the executor's folder template, e.g. 'logs/%j'.
import fs from 'node:fs'
import { inspect, parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { attachJob } from './core/attach.js'
import { FailedJobError } from './core/errors.js'
import './slurm/executor.js' // registers how to watch Slurm jobs
import { getSharedWatcher } from './slurm/watcher.js'
import type { Job } from './core/job.js'

/** 'STATE' or 'STATE (reason)': Slurm's pending reason, e.g. 'PENDING (Resources)'. */
function stateText(job: Job<unknown>): string {
  const reason = job.reason
  return reason ? `${job.state} (${reason})` : job.state
}

const USAGE = `usage:
  submitit-ts status <folder> <jobId>...
  submitit-ts wait <folder> <jobId>...
  submitit-ts result <folder> <jobId>
  submitit-ts logs <folder> <jobId> [--err] [--task N]
  submitit-ts cancel <folder> <jobId>...
<folder> is the executor's folder template (e.g. 'logs/%j').`

/** Runs one command; returns the exit code. Output goes through `out`, errors through `err`. */
export async function cli(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { err: { type: 'boolean' }, task: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  })
  const [command, folder, ...ids] = positionals
  if (values.help || !command || !folder || ids.length === 0) {
    err(USAGE)
    return values.help ? 0 : 2
  }
  const jobs = ids.map((id) => attachJob(folder, id))
  switch (command) {
    case 'status':
      for (const job of jobs) void job.state // registers the unfinished ones with the watcher
      await getSharedWatcher().refresh() // one scheduler call for all, now: not a guess before the first poll
      for (const job of jobs) out(`${job.jobId}\t${stateText(job)}`)
      return 0
    case 'wait': {
      let ok = true
      for (const job of jobs) {
        try {
          await job.wait()
        } catch (e) {
          // e.g. Slurm says it can never start: say why rather than wait forever
          err(`${job.jobId}: ${(e as Error).message}`)
          ok = false
        }
        out(`${job.jobId}\t${stateText(job)}`)
        ok &&= job.state === 'COMPLETED'
      }
      return ok ? 0 : 1
    }
    case 'cancel':
      for (const job of jobs) {
        await job.cancel()
        out(`${job.jobId}\t${job.state}`)
      }
      return 0
    case 'result': {
      if (jobs.length !== 1) break
      try {
        const values = await jobs[0].results()
        out(inspect(jobs[0].numTasks === 1 ? values[0] : values, { depth: 6, colors: false }))
        return 0
      } catch (e) {
        err(e instanceof FailedJobError ? e.message : String(e))
        return 1
      }
    }
    case 'logs': {
      if (jobs.length !== 1) break
      const task = Number(values.task ?? 0)
      const text = values.err ? jobs[0].stderr(task) : jobs[0].stdout(task)
      if (text === null) err(`job ${jobs[0].jobId} (task ${task}) has written no ${values.err ? 'stderr' : 'stdout'}`)
      else out(text.replace(/\n$/, ''))
      return 0
    }
  }
  err(USAGE)
  return 2
}

// run as a command (also through npm's bin link, hence the real path)
if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  cli(process.argv.slice(2), (s) => console.log(s), (s) => console.error(s)).then(
    (code) => { process.exitCode = code },
    (e: Error) => { console.error(`submitit-ts: ${e.message}`); process.exitCode = 2 },
  )
}
