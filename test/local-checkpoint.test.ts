// Checkpoint and requeue on the LocalExecutor, with submitit's guarantees: a job past timeoutMin
// whose task has a checkpoint is warned, checkpointed and requeued, at most maxNumTimeout times; a
// busy task that saves its own checkpoints (saveCheckpoint) is requeued from the last one.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { attachJob, type FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { busyCheckpointable, busySteps, resumableSteps } from '../dist/fixtures/trust-tasks.js'
import { rejection } from './helpers/waiting.js'

const stepsIn = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number)

t.test('an async task with a checkpoint finishes across requeues, each run resuming where the last stopped', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'steps.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, timeoutMin: 0.01, maxNumTimeout: 20 }) // 0.6 s
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(resumableSteps, log, 25, 0, 100) // 2.5 s of work
  const r = await job.result()
  t.equal(job.state, 'COMPLETED')
  t.ok(r.restarts >= 2, `requeued ${r.restarts} times`)
  t.ok(r.from > 0, `the last run resumed at step ${r.from}`)
  const steps = stepsIn(log)
  t.same(
    [...new Set(steps)].sort((a, b) => a - b),
    Array.from({ length: 25 }, (_, i) => i),
    'every step done',
  )
  // between the checkpoint and the stop (one watchdog tick) the task goes on: a step may be done again
  t.ok(steps.length <= 25 + 2 * r.restarts, `each run resumed from its checkpoint (${steps.length} steps done for 25)`)
  t.match(job.stderr(), /was warned of its end \(time limit or preemption\); checkpoint saved/)
  t.match(job.stderr(), /resumes from its checkpoint/)
  t.equal(attachJob(`${dir}/%j`, job.jobId).state, 'COMPLETED', 'its result file is on disk')
})

t.test('the countdown: past maxNumTimeout requeues, the job ends TIMEOUT, saying so', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'steps.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, timeoutMin: 0.005, maxNumTimeout: 2 }) // 0.3 s
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(resumableSteps, log, 100, 0, 100)
  const e = (await rejection(job.result())) as FailedJobError
  t.equal(job.state, 'TIMEOUT')
  t.match(e.message, /after 2 requeues from its checkpoint \(maxNumTimeout 2 spent\)/)
  t.ok(stepsIn(log).length < 100)
})

t.test('a busy task that saves its own checkpoints is requeued from the last one', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'steps.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, timeoutMin: 0.01, maxNumTimeout: 20 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(busySteps, log, 15, 0, 100) // 1.5 s of spinning
  const r = await job.result()
  t.ok(r.restarts >= 1, `requeued ${r.restarts} times`)
  const steps = stepsIn(log)
  t.same(
    [...new Set(steps)].sort((a, b) => a - b),
    Array.from({ length: 15 }, (_, i) => i),
    'every step done',
  )
  t.ok(steps.length <= 15 + r.restarts, 'at most the step in progress at each stop is done again')
})

t.test('a checkpointable task whose thread is too busy to answer: stopped after a grace, TIMEOUT', async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 1, timeoutMin: 0.005 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(busyCheckpointable, 60_000)
  const e = (await rejection(job.result())) as FailedJobError
  t.equal(job.state, 'TIMEOUT')
  t.match(e.message, /ran past its timeoutMin/)
  t.notMatch(e.message, /requeue/)
})

t.test('maxNumTimeout is checked', async (t) => {
  t.throws(() => new LocalExecutor({ folder: t.testdir(), maxNumTimeout: -1 }), /maxNumTimeout must be an integer from 0 to 255/)
  t.ok(new LocalExecutor({ folder: t.testdir(), maxNumTimeout: 0 }))
})
