// Against the real cluster: signals as Slurm sends them. SIGUSR2 to the batch shell (`scancel
// --signal=USR2 --batch`) reaches the worker instead of killing the shell (it used to end the job
// FAILED 0:12); SIGTERM, to the steps or to the batch shell, is logged and does not stop the worker.
// A SIGUSR2 that comes while node starts, before the worker's handler, killed the worker (FAILED):
// the batch shell now runs it again, and the warning is acted on.
// (SIGUSR2 and SIGTERM together, as in a preemption: slurm-integration-preempt.test.ts.)
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { resumableCount, sleepMs } from '../dist/fixtures/tasks.js'
import { restartsAfter } from '../dist/fixtures/slurm-tasks.js'
import { needsCluster } from './slurm-cluster.js'
import { distUrl } from './helpers/paths.js'
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

for (const useSrun of [true, false]) {
  const to = useSrun ? 'to the steps (srun)' : 'to the batch shell (no srun)'
  t.test(`a SIGUSR2 ${to} while node starts, before the worker's handler: the worker runs again and acts on it (requeued, COMPLETED)`, opts, async (t) => {
    const dir = t.testdir()
    fs.mkdirSync(dir, { recursive: true })
    const marker = path.join(dir, 'node-started')
    const setup = [`export SLOW_START_MARKER=${marker}`, `export NODE_OPTIONS=--import=${distUrl('fixtures/slow-node-start.js')}`]
    const job = await new SlurmExecutor({ folder: path.join(dir, '%j'), timeoutMin: 10, useSrun, setup }).submit(sleepMs, 100, 42)
    await until(() => fs.existsSync(marker), 200_000, 'the node process started', 50)
    execFileSync('scancel', ['--signal=USR2', ...(useSrun ? [] : ['--batch']), job.jobId])
    t.equal(await job.result(), 42, 'its own value')
    t.equal(job.state, 'COMPLETED')
    const log = `${job.stdout()}${job.stderr()}`
    t.match(log, /the worker died of a SIGUSR2 that came before its handler/)
    t.match(log, /SIGUSR2 received at .* the job is preempted/, 'the warning is acted on: a preemption, early in a 10-minute job')
    t.match(log, /requeueing job/)
    t.equal(fs.readFileSync(marker, 'utf8').trim().split('\n').length, 3, 'node started three times: killed, run again (requeues), the requeued run')
  })
}
