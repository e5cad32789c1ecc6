// cancel(): a queued job never runs; a running one (even a synchronous loop) is stopped.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { add, busyMs } from '../dist/fixtures/tasks.js'
import { touch } from '../dist/fixtures/core-tasks.js'
import { listFiles } from './helpers/files.js'
import { rejection, until } from './helpers/waiting.js'

t.test('a queued job is CANCELLED and never runs', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const long = await ex.submit(busyMs, 1500)
  const marker = path.join(folder, 'ran')
  const queued = await ex.submit(touch, marker, 1)
  t.equal(queued.state, 'PENDING')
  await queued.cancel()
  t.equal(queued.state, 'CANCELLED')
  const e = (await rejection(queued.result())) as FailedJobError
  t.type(e, FailedJobError)
  t.equal(e.state, 'CANCELLED')
  t.match(e.message, /cancelled before it started/)
  t.equal(await long.result(), 1500, 'the running job was not disturbed')
  // give the pool a chance to (wrongly) run the cancelled job
  t.equal(await (await ex.submit(add, 1, 1)).result(), 2)
  t.notOk(fs.existsSync(marker), 'the cancelled task never ran')
  t.equal(queued.state, 'CANCELLED')
})

t.test('cancelling queued elements of an array', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const markers = Array.from({ length: 6 }, (_, i) => path.join(folder, `ran-${i}`))
  const long = await ex.submit(busyMs, 1000)
  const jobs = await ex.mapArray(touch, markers, [0, 1, 2, 3, 4, 5])
  await Promise.all([jobs[1].cancel(), jobs[4].cancel()])
  await Promise.all(jobs.map((j) => j.wait()))
  await long.wait()
  t.same(
    jobs.map((j) => j.state),
    ['COMPLETED', 'CANCELLED', 'COMPLETED', 'COMPLETED', 'CANCELLED', 'COMPLETED'],
  )
  t.same(
    markers.map((m) => fs.existsSync(m)),
    [true, false, true, true, false, true],
    'only the others ran',
  )
})

t.test('a running busy job is CANCELLED quickly and the pool goes on', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(busyMs, 60_000)
  await until(() => job.state === 'RUNNING', 30_000, 'the job to run')
  const t0 = Date.now()
  await job.cancel()
  const ms = Date.now() - t0
  t.equal(job.state, 'CANCELLED')
  t.ok(ms < 20_000, `cancel() resolved well before the 60 s loop would end (${ms} ms)`)
  const e = (await rejection(job.result())) as FailedJobError
  t.equal(e.state, 'CANCELLED')
  t.match(e.message, /cancelled while running/)
  t.equal(await (await ex.submit(add, 2, 3)).result(), 5, 'the next job runs')
  await job.cancel() // cancelling a finished job is a no-op
  t.equal(job.state, 'CANCELLED')
})

t.test('cancelling a completed job changes nothing', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(add, 1, 2)
  t.equal(await job.result(), 3)
  await job.cancel()
  t.equal(job.state, 'COMPLETED')
  t.equal(await job.result(), 3)
})

t.test('shutdown() cancels the jobs still queued', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  const running = await ex.submit(busyMs, 60_000)
  const queued = await ex.submit(add, 1, 2)
  await until(() => running.state === 'RUNNING', 30_000, 'the job to run')
  await ex.shutdown()
  await Promise.all([running.wait(), queued.wait()])
  t.equal(queued.state, 'CANCELLED')
  t.ok(running.done(), `the running job has ended (${running.state})`)
})

t.test('once shutdown() resolves, nothing more is written: the stopped chunks have written what they saved', async (t) => {
  const folder = path.join(t.testdir(), 'logs')
  for (let round = 0; round < 5; round++) {
    const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2 })
    // quick elements done, then a busy one stopped in the middle of its chunk: its rescue writes files
    const jobs = await ex.mapArray(busyMs, [0, 0, 0, 0, 60_000, 0, 0, 0])
    await until(() => jobs[4].state === 'RUNNING', 60_000, 'the busy element running')
    await ex.shutdown()
    const after = listFiles(folder)
    await new Promise((r) => setTimeout(r, 300))
    t.same(listFiles(folder), after, `round ${round}: no file appeared after shutdown`)
    t.ok(
      jobs.every((j) => j.done()),
      'every job is final',
    )
  }
})

t.test('shutdown() while threads answer (the main thread was busy): the caller goes on, the answers are read from their files', async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 2 })
  await Promise.all((await ex.mapArray(busyMs, [0, 0, 0, 0])).map((j) => j.wait())) // the threads are up
  const jobs = await ex.mapArray(
    busyMs,
    Array.from({ length: 40 }, () => 20),
  )
  // the threads finish their calls and answer while this thread cannot listen; shutdown() then stops the calls
  const end = Date.now() + 1500
  while (Date.now() < end) {
    /* busy */
  }
  await ex.shutdown()
  await new Promise((r) => setTimeout(r, 200)) // an 'error' of the pool would have ended this process
  t.ok(
    jobs.every((j) => j.state === 'COMPLETED' || j.state === 'CANCELLED'),
    'every job completed or was cancelled',
  )
  t.ok(
    jobs.some((j) => j.state === 'COMPLETED'),
    'the calls that had answered keep their results',
  )
})
