// Timings in every result: a job the LocalExecutor stops (time limit, cancel while running) records
// when it ran too, so that jobInfo(), `status` and the report show it; a job cancelled before it
// started has none. Read from another process, as a user would.
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { attachJob, jobInfo, LocalExecutor } from '../dist/lib/index.js'
import { busyMs, sleepMs } from '../dist/fixtures/tasks.js'
import { CLI } from './helpers/paths.js'
import { until } from './helpers/waiting.js'

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 })

t.test('a timed-out job and one cancelled while running have start, end and host; one cancelled before its start has none', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 1, timeoutMin: 0.003 }) // 180 ms
  t.teardown(() => ex.shutdown())
  const [late] = await ex.mapArray(busyMs, [60_000])
  await late.wait()
  t.equal(late.state, 'TIMEOUT')
  ex.updateParameters({ timeoutMin: 5 })
  const [running, queued] = await ex.mapArray(sleepMs, [60_000, 60_000], [1, 2])
  await until(() => running.state === 'RUNNING', 60_000, 'the first one runs')
  await Promise.all([running.cancel(), queued.cancel()])

  for (const job of [late, running]) {
    // from the files, as another process reads them
    const info = jobInfo(attachJob(folder, job.jobId))
    t.ok(info.startedAt !== undefined && info.endedAt !== undefined && info.endedAt >= info.startedAt, `${job.jobId} (${job.state}): start and end`)
    t.equal(typeof info.host, 'string', `${job.jobId}: the host`)
    t.equal(info.thread, undefined, `${job.jobId}: no thread named (the one it ran on was stopped)`)
  }
  t.equal(jobInfo(attachJob(folder, queued.jobId)).startedAt, undefined, 'never started: no timings')

  const status = run('status', folder, late.jobId)
  t.equal(status.status, 0, status.stderr)
  t.match(status.stdout, new RegExp(`^${late.jobId}\tTIMEOUT\t\\d[\\d.]*m?s\t\\S+\n`), 'status shows its duration and host')
  const arr = JSON.parse(run('status', folder, running.paths.arrayId, '--json').stdout)
  t.match(arr.arrays[0].elements, [
    { state: 'CANCELLED', startedAt: String, durationMs: Number, where: String },
    { state: 'CANCELLED', startedAt: null, durationMs: null, where: null },
  ])
})
