// One bad value fails one job: a result v8 cannot send fails that element alone, with an error
// naming the job and what could not be sent; its chunk siblings complete. The same values as
// arguments are refused at submit, naming the argument.
import t from 'tap'
import { DebugExecutor, FailedJobError, LocalExecutor, UnserializableValueError } from '../dist/lib/index.js'
import { add, echo } from '../dist/fixtures/tasks.js'
import { badResultAt } from '../dist/fixtures/trust-tasks.js'
import { rejection } from './helpers/waiting.js'

t.test('LocalExecutor: 2,000 elements, one returns a Proxy and one an array with a function property: only those two fail', async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const n = 2000
  const jobs = await ex.mapArray(
    badResultAt,
    Array.from({ length: n }, (_, i) => i),
    Array(n).fill(1234),
    Array(n).fill(1500),
  )
  await Promise.all(jobs.map((j) => j.wait()))
  const failed = jobs.filter((j) => j.state !== 'COMPLETED').map((j) => j.jobId)
  t.same(failed, [jobs[1234].jobId, jobs[1500].jobId], 'exactly the two bad elements failed')
  for (const i of [1234, 1500]) {
    const e = (await jobs[i].exception()) as FailedJobError
    t.type(e, FailedJobError)
    t.match(e.message, new RegExp(`the result of job ${jobs[i].jobId}.*cannot be sent`), `job ${i} names itself and says why`)
    t.match(e.message, /UnserializableValueError/)
  }
  t.match((await jobs[1500].exception())!.message, /\.callback/, 'the function property is named')
  const values = await Promise.all(jobs.filter((_, i) => i !== 1234 && i !== 1500).map((j) => j.result()))
  t.same(
    values,
    Array.from({ length: n }, (_, i) => i).filter((i) => i !== 1234 && i !== 1500),
  )
})

t.test('DebugExecutor: an unsendable result ends FAILED, never RUNNING for ever', async (t) => {
  const ex = new DebugExecutor({ folder: `${t.testdir()}/%j` })
  const jobs = await ex.mapArray(badResultAt, [0, 1, 2], [1, 1, 1], [2, 2, 2])
  t.equal(await jobs[0].result(), 0)
  const e = (await rejection(jobs[1].result())) as FailedJobError
  t.type(e, FailedJobError)
  t.match(e.message, /cannot be sent/)
  t.equal(jobs[1].state, 'FAILED')
  t.equal((await jobs[2].exception())?.state, 'FAILED')
  t.equal(jobs[2].state, 'FAILED')
})

for (const [name, make] of [
  ['LocalExecutor', (f: string) => new LocalExecutor({ folder: f, maxWorkers: 1 })],
  ['DebugExecutor', (f: string) => new DebugExecutor({ folder: f })],
] as const) {
  t.test(`${name}: the same values as arguments are refused at submit, naming the argument`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    const proxy = new Proxy({ a: 1 }, {})
    let e = await rejection(ex.submit(echo, proxy))
    t.type(e, UnserializableValueError)
    t.match(e.message, /argument 1 of echo cannot be sent/)
    e = await rejection(ex.mapArray(add, [1, 2, 3], [1, Object.assign([2], { f: () => 1 }) as unknown as number, 3]))
    t.type(e, UnserializableValueError)
    t.match(e.message, /argument 2 of add \(element 1\)\.f cannot be sent/)
    e = await rejection(ex.submit(echo, { nested: { deeper: proxy } }))
    t.match(e.message, /argument 1 of echo\.nested\.deeper cannot be sent/)
    t.equal(await (await ex.submit(add, 1, 2)).result(), 3, 'the executor goes on')
  })
}
