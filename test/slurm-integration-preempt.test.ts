// Against the real cluster: a preemption (SIGUSR2 long before the time limit; the test cluster has no
// preemption, so it is sent with `scancel --signal=USR2`, as Slurm signals the steps) requeues the
// job whether or not its task has a checkpoint, and uses none of the time-limit requeues; SIGTERM
// coming with the warning does not stop the checkpoint nor the requeue.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { resumableCount } from '../dist/fixtures/tasks.js'
import { restartsAfter } from '../dist/fixtures/slurm-tasks.js'
import { needsCluster } from './slurm-cluster.js'
import { until } from './helpers/waiting.js'

const skip = needsCluster(t)
const opts = { ...skip, timeout: 280_000 }

t.test('preempted without a checkpoint: requeued, the rerun starts from scratch', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 10 })
  const job = await ex.submit(restartsAfter, 15_000)
  await until(() => /started/.test(job.stdout() ?? ''), 200_000, 'the task started', 200)
  execFileSync('scancel', ['--signal=USR2', job.jobId])
  t.equal(await job.result(), 1, 'the rerun (restarts = 1) returned')
  t.match(job.stderr() ?? '', /the job is preempted[\s\S]*no checkpoint: it starts again from scratch/)
  const counts = JSON.parse(fs.readFileSync(path.join(job.paths.folder, `${job.jobId}_requeues.json`), 'utf8'))
  t.same(counts, { nonce: job.nonce, timeouts: 0, preemptions: 1 })
})

t.test('preempted with a checkpoint: resumes from it, even with maxNumTimeout: 0', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 10, maxNumTimeout: 0 })
  const job = await ex.submit(resumableCount, 100, 0, 100)
  await until(() => /step 5\b/.test(job.stdout() ?? ''), 200_000, 'step 5', 200)
  execFileSync('scancel', ['--signal=USR2', job.jobId])
  const result = await job.result()
  t.ok(result.from >= 5, `resumed from step ${result.from}`)
  t.equal(result.restarts, 1)
  const counts = JSON.parse(fs.readFileSync(path.join(job.paths.folder, `${job.jobId}_requeues.json`), 'utf8'))
  t.same(counts, { nonce: job.nonce, timeouts: 0, preemptions: 1 }, 'a preemption uses no time-limit requeue')
})

t.test('SIGUSR2 then SIGTERM at once (a preemption): the checkpoint is written, the job resumes from it', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 10 })
  const job = await ex.submit(resumableCount, 100, 0, 100)
  await until(() => /step 5\b/.test(job.stdout() ?? ''), 200_000, 'step 5', 200)
  execFileSync('scancel', ['--signal=USR2', job.jobId])
  execFileSync('scancel', ['--signal=TERM', job.jobId])
  const result = await job.result()
  t.ok(result.from >= 5, `resumed from step ${result.from}`)
  t.equal(result.restarts, 1)
  t.match(job.stderr() ?? '', /SIGTERM received[\s\S]*resumes from its checkpoint|checkpoint saved[\s\S]*SIGTERM received/)
})
