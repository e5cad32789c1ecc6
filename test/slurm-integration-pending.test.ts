// Against the real cluster: a job Slurm keeps pending for good makes result()/wait() reject naming
// Slurm's reason (and is cancelled); a pending job shows its reason (job.reason, String(job), the
// CLI); wait({ timeoutMs }) gives up without touching the job.
import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { WaitTimeoutError } from '../dist/lib/core/job.js'
import { JobNeverRunsError } from '../dist/lib/slurm/errors.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, fails } from '../dist/fixtures/tasks.js'
import { CLI } from './helpers/paths.js'
import { until } from './helpers/waiting.js'
import { needsCluster } from './slurm-cluster.js'

const skip = needsCluster(t)
const opts = { ...skip, timeout: 240_000 }
const sacctState = (id: string) => execFileSync('sacct', ['-X', '-n', '-P', '-o', 'State', '-j', id], { encoding: 'utf8' }).trim()

t.test('requests Slurm accepts but never runs: rejected with the reason, and cancelled', opts, async (t) => {
  const cases: [string, object, RegExp][] = [
    // Slurm gives either reason for it, depending on when its scheduler looked (seen here: both)
    ['nodes: 2 on a one-node partition', { nodes: 2 }, /(?:PartitionNodeLimit|PartitionConfig)/],
    ['cpusPerTask: 64 on an 8-CPU node', { cpusPerTask: 64 }, /PartitionConfig/],
  ]
  for (const [what, params, reason] of cases) {
    for (const folder of [path.join(t.testdir(), 'flat'), path.join(t.testdir(), 'ids', '%j')]) {
      const ex = new SlurmExecutor({ folder, timeoutMin: 5, ...params })
      const job = await ex.submit(add, 1, 2)
      const e = await job.results().then(
        () => null,
        (err: Error) => err,
      )
      t.type(e, JobNeverRunsError, `${what}, ${path.basename(path.dirname(folder))}`)
      t.match(e?.message ?? '', reason)
      t.match(e?.message ?? '', /it was cancelled/)
      t.equal(job.state, 'CANCELLED')
      t.match(String(job), new RegExp(`^Job<${job.jobId}, CANCELLED \\(${reason.source}\\)>$`))
      await until(() => sacctState(job.jobId).startsWith('CANCELLED'), 60_000, `job ${job.jobId} CANCELLED in sacct`, 250)
    }
  }
})

t.test('a dependency that can never be satisfied: rejected with DependencyNeverSatisfied', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 5 })
  const first = await ex.submit(fails, 'so the next one never runs')
  const next = await ex.updateParameters({ dependency: `afterok:${first.jobId}` }).submit(add, 1, 2)
  t.teardown(() => next.cancel().catch(() => {}))
  await t.rejects(first.result())
  const e = await next.wait().then(
    () => null,
    (err: Error) => err,
  )
  t.type(e, JobNeverRunsError)
  t.match(e?.message ?? '', new RegExp(`job ${next.jobId} can never start: .*DependencyNeverSatisfied`))
  await t.rejects(next.result(), JobNeverRunsError)
  t.equal(next.state, 'CANCELLED')
})

t.test('a begin time: PENDING (BeginTime) in the API and the CLI; wait({ timeoutMs }) gives up, the job stays', opts, async (t) => {
  const folder = path.join(t.testdir(), '%j')
  const ex = new SlurmExecutor({ folder, timeoutMin: 5, additionalParameters: { begin: 'now+1hour' } })
  const job = await ex.submit(add, 1, 2)
  t.teardown(() => job.cancel())
  const e = await job.result({ timeoutMs: 5000 }).then(
    () => null,
    (err: Error) => err,
  )
  t.type(e, WaitTimeoutError)
  await until(() => job.reason === 'BeginTime', 60_000, 'reason BeginTime', 250) // sacct may not have it at the first poll
  t.equal(String(job), `Job<${job.jobId}, PENDING (BeginTime)>`)
  t.match(sacctState(job.jobId), /^PENDING/, 'still queued')
  const r = spawnSync(process.execPath, [CLI, 'status', folder, job.jobId], { encoding: 'utf8', timeout: 60_000 })
  t.match(r.stdout, new RegExp(`^${job.jobId}\tPENDING \\(BeginTime\\)(\t|$)`, 'm'), r.stderr)
  await job.cancel()
  t.equal(job.state, 'CANCELLED')
})
