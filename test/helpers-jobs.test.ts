// The helpers: asCompleted, monitorJobs, runCommand (submitit.helpers' counterparts), on real threads.
import { PassThrough } from 'node:stream'
import t from 'tap'
import { asCompleted, FailedJobError, LocalExecutor, monitorJobs, runCommand } from '../dist/lib/index.js'
import { fails, sleepMs } from '../dist/fixtures/tasks.js'

t.test('asCompleted yields each job once it has ended, fastest first', async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(sleepMs, [4000, 10], [1, 2]) // far apart: a loaded machine must not swap them
  const order: number[] = []
  for await (const job of asCompleted(jobs)) {
    t.ok(job.done(), `${job.jobId} is done when yielded`)
    order.push(await job.result())
  }
  t.same(order, [2, 1], 'the fast one first')
})

t.test('monitorJobs waits for all, counts states, names the failed ones', async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const ok = await ex.mapArray(sleepMs, [5, 5, 5], [1, 2, 3])
  const bad = await ex.submit(fails, 'nope')
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (d: Buffer) => (text += String(d)))
  const summary = await monitorJobs([...ok, bad], { stream, intervalMs: 0 })
  t.equal(summary.total, 4)
  t.same(summary.states, { COMPLETED: 3, FAILED: 1 })
  t.same(
    summary.failed.map((j) => j.jobId),
    [bad.jobId],
  )
  t.match(text, /4\/4 jobs done \((3 completed, 1 failed|1 failed, 3 completed)\)/)
  t.match(text, new RegExp(`failed: ${bad.jobId} \\(FAILED\\)`))
})

t.test("runCommand: a command line as a task, its output in the job's log", async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(runCommand, ['sh', '-c', 'echo "hello $WHO"; echo warn >&2'], { env: { WHO: 'node' } })
  t.equal(await job.result(), 'hello node')
  t.equal(job.stdout(), 'hello node\n')
  t.equal(job.stderr(), 'warn\n')
  const failing = await ex.submit(runCommand, ['sh', '-c', 'echo broken >&2; exit 3'])
  const e = await failing.exception()
  t.type(e, FailedJobError)
  t.match(e?.message, /command failed \(exit code 3\): sh -c[\s\S]*broken/)
  const missing = await ex.submit(runCommand, ['/no/such/program'])
  t.match((await missing.exception())?.message, /command failed \(.*ENOENT|no such file/i)
})
