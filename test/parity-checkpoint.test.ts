// submitit parity, checkpoint and requeue on the LocalExecutor (test_local.py): test_requeuing (a
// function sequence past its time limit, requeued from its checkpoint at most maxNumTimeout times,
// then TIMEOUT, its logs never announcing a requeue that does not come) and test_custom_checkpoint
// (a task's checkpoint changes the arguments of its rerun).
import t from 'tap'
import { delayed, type FailedJobError, functionSequence, LocalExecutor } from '../dist/lib/index.js'
import { checkpointReturnsNothing, slacker, slowCall } from '../dist/fixtures/parity-tasks.js'
import { rejection } from './helpers/waiting.js'

t.test('a function sequence past its time: requeued from its checkpoint maxNumTimeout times, then TIMEOUT', async (t) => {
  const dir = t.testdir()
  // 20 calls of 0.3 s (6 s) with a limit of 1 s: never done in time
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, maxNumTimeout: 1, timeoutMin: 1 / 60 })
  t.teardown(() => ex.shutdown())
  const seq = await functionSequence(Array.from({ length: 20 }, (_, i) => delayed(slowCall, i, 300)))
  const [job] = await ex.submitArray([seq])
  const e = (await rejection(job!.result())) as FailedJobError
  t.equal(job!.state, 'TIMEOUT')
  t.match(e.message, /ran past its timeoutMin of .* after 1 requeue from its checkpoint \(maxNumTimeout 1 spent\)/, "submitit's 'timed-out too many times'")
  const stderr = job!.stderr() ?? ''
  t.equal(stderr.match(/resumes from its checkpoint/g)?.length, 1, 'requeued once, from its checkpoint')
  t.equal(stderr.match(/was warned of its end/g)?.length, 2, 'warned at the end of each run')
  t.notMatch(stderr, /will be requeued/, 'the last warning is not followed by a requeue, and no log line says there is one')
})

t.test("a task's checkpoint sets the arguments of its rerun (submitit's test_custom_checkpoint)", async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, maxNumTimeout: 1, timeoutMin: 1 / 60 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(slacker, true)
  t.equal(await job.result(), 'worked hard')
  t.equal(job.state, 'COMPLETED')
  t.match(job.stdout(), /Slacking\n[\s\S]*Interrupted while slacking\. I won't slack next time\.\n[\s\S]*Working hard\n/)
})

t.test('a checkpoint that returns nothing: logged as a failed checkpoint, not requeued, the job ends TIMEOUT', async (t) => {
  // submitit: "Job not requeued because: checkpoint function returned None"
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, timeoutMin: 1 / 60 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(checkpointReturnsNothing)
  const e = (await rejection(job.result())) as FailedJobError
  t.equal(job.state, 'TIMEOUT', 'as a checkpoint that throws: not a failure of the task')
  t.match(e.message, /ran past its timeoutMin of \S+ min; its worker thread was stopped\n/, 'not requeued')
  t.match(job.stderr(), /the checkpoint of job \S+ failed: TypeError: the checkpoint of job \S+ must be the arguments to re-run with, as an array/)
  t.notMatch(job.stderr(), /resumes from its checkpoint/)
})
