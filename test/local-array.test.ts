// Arrays on the LocalExecutor: mapArray, submitArray with delayed(), batch().
import t, { type Test } from 'tap'
import { delayed, LocalExecutor, ParameterError, attachJob, type Job } from '../dist/lib/index.js'
import { add, fails, sleepMs, square } from '../dist/fixtures/tasks.js'
import { listFiles } from './helpers/files.js'
import { rejection } from './helpers/waiting.js'

const folder = t.testdir()
const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2 })
t.teardown(() => ex.shutdown())

/** Every job shares one array id and is numbered A_0..A_{n-1}, in order. */
function checkArrayIds(t: Test, jobs: Job<unknown>[]): string {
  const arrayId = jobs[0].jobId.replace(/_0$/, '')
  t.not(arrayId, jobs[0].jobId, 'the first job id ends with _0')
  t.ok(
    jobs.every((j, i) => j.jobId === `${arrayId}_${i}`),
    `every job id is ${arrayId}_<index>`,
  )
  return arrayId
}

t.test('mapArray of 1,000 inputs equals a plain map', async (t) => {
  const inputs = Array.from({ length: 1000 }, (_, i) => i - 500)
  const jobs = await ex.mapArray(square, inputs)
  t.equal(jobs.length, 1000)
  checkArrayIds(t, jobs)
  const results = await Promise.all(jobs.map((j) => j.result()))
  t.same(
    results,
    inputs.map((x) => x * x),
  )
  t.ok(
    jobs.every((j) => j.state === 'COMPLETED'),
    'every job COMPLETED',
  )
  // jobs read back from their (chunked) result files give the same values
  const again = await Promise.all([0, 1, 499, 999].map((i) => attachJob<number>(`${folder}/%j`, jobs[i].jobId).result()))
  t.same(
    again,
    [0, 1, 499, 999].map((i) => inputs[i] ** 2),
    're-attached jobs read their chunk files',
  )
  // chunked: far fewer result files than jobs, and no log files for silent tasks
  const files = listFiles(folder).filter((f) => f.includes(jobs[0].jobId.replace(/_0$/, '')))
  t.ok(files.filter((f) => f.endsWith('_result.v8')).length < 1000, 'results are written in chunks')
  t.notOk(
    files.some((f) => /_log\.(out|err)$/.test(f)),
    'no log files',
  )
})

t.test('mapArray with two iterables zips them, like map over pairs', async (t) => {
  const jobs = await ex.mapArray(add, [1, 2, 3, 4], [10, 20, 30, 40])
  checkArrayIds(t, jobs)
  t.same(await Promise.all(jobs.map((j) => j.result())), [11, 22, 33, 44])
  function* gen(): Generator<number> {
    for (let i = 0; i < 5; i++) yield i
  }
  const fromGen = await ex.mapArray(add, gen(), new Set([100, 200, 300, 400, 500]))
  t.same(await Promise.all(fromGen.map((j) => j.result())), [100, 201, 302, 403, 504], 'any iterables')
  const e = await rejection(ex.mapArray(add, [1, 2, 3], [1, 2]))
  t.type(e, ParameterError)
  t.match(e.message, /different lengths \(3, 2\)/)
  t.same(await ex.mapArray(square, []), [], 'an empty array gives no jobs')
})

t.test('submitArray with delayed() mixes tasks in one array', async (t) => {
  const jobs = await ex.submitArray([delayed(add, 1, 2), delayed(square, 7), delayed(sleepMs, 20, 5), delayed(fails, 'no')])
  checkArrayIds(t, jobs)
  t.equal(await jobs[0].result(), 3)
  t.equal(await jobs[1].result(), 49)
  t.equal(await jobs[2].result(), 5)
  t.match((await rejection(jobs[3].result())).message, /ValidationError: no/)
  t.equal(jobs[3].state, 'FAILED')
  const sub = await jobs[1].submission()
  t.equal(sub.task.exportName, 'square', 'the submission names the task')
  t.same(sub.args, [7])
  t.same(await ex.submitArray([]), [])
})

t.test('batch() makes one array of the submits inside it', async (t) => {
  const promises: Promise<Job<number>>[] = []
  const jobs = await ex.batch(() => {
    for (let i = 0; i < 6; i++) promises.push(ex.submit(add, i, 100))
  })
  t.equal(jobs.length, 6)
  const arrayId = checkArrayIds(t, jobs)
  const viaSubmit = await Promise.all(promises)
  t.ok(
    viaSubmit.every((j, i) => j === jobs[i]),
    'each submit() resolves to its job of the array',
  )
  t.same(await Promise.all(viaSubmit.map((j) => j.result())), [100, 101, 102, 103, 104, 105])
  const submissions = listFiles(folder).filter((f) => f.endsWith('_submitted.v8') && f.includes(arrayId))
  t.equal(submissions.length, 1, 'one submission file for the whole batch')
  // a batch with a bad argument submits nothing and rejects every submit
  const inner: Promise<unknown>[] = []
  const e = await rejection(
    ex.batch(() => {
      inner.push(ex.submit(add, 1, 2).catch((x: Error) => x))
      inner.push(ex.submit(add, 1, (() => 2) as unknown as number).catch((x: Error) => x))
    }),
  )
  t.match(e.message, /argument 2 of add \(element 1\)/)
  const settled = await Promise.all(inner)
  t.ok(
    settled.every((x) => x instanceof Error),
    'every submit of the failed batch rejects',
  )
  t.same(await ex.batch(() => {}), [], 'an empty batch')
  // outside a batch, submit works again as usual
  t.equal(await (await ex.submit(add, 2, 2)).result(), 4)
  t.notMatch((await ex.submit(add, 2, 2)).jobId, /_\d+$/, 'a single job has no array index')
})
