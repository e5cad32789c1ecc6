// Against the real cluster: signals as Slurm sends them. SIGUSR2 to the batch shell (`scancel
// --signal=USR2 --batch`) reaches the worker instead of killing the shell (it used to end the job
// FAILED 0:12); SIGTERM, to the steps or to the batch shell, is logged and does not stop the worker.
// (SIGUSR2 and SIGTERM together, as in a preemption: slurm-integration-preempt.test.ts.)
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { resumableCount } from '../dist/fixtures/tasks.js'
import { restartsAfter } from '../dist/fixtures/slurm-tasks.js'
import { needsCluster } from './slurm-cluster.js'
import { until } from './helpers/waiting.js'

const skip = needsCluster(t)
const opts = { ...skip, timeout: 280_000 }

t.test('SIGUSR2 to the batch shell goes on to the worker: checkpoint, requeue, COMPLETED', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 10 })
  const job = await ex.submit(resumableCount, 100, 0, 100)
  await until(() => /step 5\b/.test(job.stdout() ?? ''), 200_000, 'step 5', 200)
  execFileSync('scancel', ['--signal=USR2', '--batch', job.jobId])
  const result = await job.result()
  t.ok(result.from >= 5, `resumed from step ${result.from}`)
  t.equal(result.restarts, 1)
  t.equal(job.state, 'COMPLETED')
})

t.test('SIGTERM to the steps and to the batch shell: logged, the job runs to its end', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), 'logs'), timeoutMin: 10 })
  const job = await ex.submit(restartsAfter, 8000)
  await until(() => /started/.test(job.stdout() ?? ''), 200_000, 'the task started', 200)
  execFileSync('scancel', ['--signal=TERM', job.jobId])
  execFileSync('scancel', ['--signal=TERM', '--batch', job.jobId])
  t.equal(await job.result(), 0, 'its value, from its first run')
  t.equal(job.state, 'COMPLETED')
  const log = job.stderr() ?? ''
  t.match(log, /submitit-ts worker: SIGTERM received/)
  t.match(log, /submitit-ts batch: SIGTERM at /)
})
