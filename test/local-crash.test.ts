// A task that kills its worker thread fails that job only, with an error pointing to its logs.
import fs from 'node:fs'
import t from 'tap'
import { FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { add, throwsLater } from '../dist/fixtures/tasks.js'
import { appendThenExit, exitsOn } from '../dist/fixtures/core-tasks.js'
import { rejection } from './helpers/waiting.js'

t.test('process.exit in a task fails its job with WorkerCrashError; the array goes on', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const xs = Array.from({ length: 30 }, (_, i) => i)
  const jobs = await ex.mapArray(
    exitsOn,
    xs,
    xs.map(() => 13),
  )
  await Promise.all(jobs.map((j) => j.wait()))
  const crashed = jobs[13]
  t.equal(crashed.state, 'FAILED')
  const e = (await rejection(crashed.result())) as FailedJobError
  t.type(e, FailedJobError)
  t.match(e.message, /WorkerCrashError/)
  t.match(e.message, /worker thread running job \S+_13 died/)
  t.ok(e.message.includes(crashed.paths.stderr(0)), 'points to its stderr log')
  t.ok(e.message.includes(crashed.paths.stdout(0)), 'points to its stdout log')
  t.same(
    jobs
      .filter((_, i) => i !== 13)
      .map((j) => j.state)
      .filter((s) => s !== 'COMPLETED'),
    [],
    'the others COMPLETED',
  )
  t.same(
    await Promise.all(jobs.filter((_, i) => i !== 13).map((j) => j.result())),
    xs.filter((x) => x !== 13),
  )
  t.equal(await (await ex.submit(add, 1, 2)).result(), 3, 'the pool still runs jobs')
})

t.test('a single crashing job', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(exitsOn, 1, 1)
  const e = await job.exception()
  t.equal(job.state, 'FAILED')
  t.match(e?.message, /WorkerCrashError/)
  t.equal(await (await ex.submit(exitsOn, 2, 1)).result(), 2)
})

t.test('elements that completed before a crash in their chunk run only once', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const log = `${folder}/runs.txt`
  const xs = Array.from({ length: 200 }, (_, i) => i)
  const jobs = await ex.mapArray(
    appendThenExit,
    xs.map(() => log),
    xs,
    xs.map(() => 150),
  )
  await Promise.all(jobs.map((j) => j.wait()))
  t.equal(jobs[150].state, 'FAILED')
  t.same(
    jobs
      .filter((_, i) => i !== 150)
      .map((j) => j.state)
      .filter((s) => s !== 'COMPLETED'),
    [],
    'the others COMPLETED',
  )
  const runs = new Map<number, number>()
  for (const line of fs.readFileSync(log, 'utf8').trim().split('\n')) runs.set(Number(line), (runs.get(Number(line)) ?? 0) + 1)
  t.equal(runs.size, 200, 'every element ran')
  const twice = [...runs].filter(([, n]) => n > 1).map(([x]) => x)
  t.same(twice, [], `no element ran twice (these did: ${twice.join(', ')})`)
})

t.test("an uncaught error thrown by a task's callback fails that job only, with its own stack", async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const [ok1, late, ok2] = await ex.batch(() => {
    void ex.submit(add, 1, 1)
    void ex.submit(throwsLater, 'thrown from a timer')
    void ex.submit(add, 2, 2)
  })
  const e = await late.exception()
  t.equal(late.state, 'FAILED')
  t.match(e?.message, /Error: thrown from a timer/)
  t.match(e?.remoteStack ?? '', /tasks\.[jt]s/, 'the stack of the timer callback')
  t.equal(await ok1.result(), 2)
  t.equal(await ok2.result(), 4, 'the thread lived on: the next job of the chunk ran')
})
