// The helpers over many jobs: asCompleted, monitorJobs and attachJob at a size where the former
// O(n²) code took minutes (asCompleted over 20k jobs: 47 s; attachJob of 10k: out of memory).
// Correctness only: no timing is asserted (the bench measures; see BENCHMARKS.md, part 5).
import fs from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { asCompleted, attachJob, LocalExecutor, monitorJobs, type Job } from '../dist/lib/index.js'
import { findChunkFile, forgetListing, mark } from '../dist/lib/core/chunk-listing.js'
import { sleepMs, trivial } from '../dist/fixtures/tasks.js'

const N = 20_000

t.test(`asCompleted and monitorJobs over ${N.toLocaleString('en')} finished jobs of one mapArray`, async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(
    trivial,
    Array.from({ length: N }, (_, i) => i),
  )
  await Promise.all(jobs.map((j) => j.wait()))

  const seen = new Uint32Array(N)
  let count = 0
  for await (const job of asCompleted(jobs)) {
    seen[job.paths.index!]++
    count++
  }
  t.equal(count, N, 'as many jobs yielded as given')
  t.ok(
    seen.every((x) => x === 1),
    'each job exactly once',
  )

  const stream = new PassThrough()
  let text = ''
  stream.on('data', (d: Buffer) => (text += String(d)))
  const summary = await monitorJobs(jobs, { stream, intervalMs: 0 })
  t.equal(summary.total, N)
  t.same(summary.states, { COMPLETED: N })
  t.same(summary.failed, [])
  t.match(text, new RegExp(`${N}/${N} jobs done \\(${N} completed\\)`))

  // re-attached from the folder, as another process would: every result read back right
  const attached = jobs.map((j) => attachJob<number>(folder, j.jobId))
  const values = await Promise.all(attached.map((j) => j.result()))
  t.ok(
    values.every((v, i) => v === i + 1),
    `the ${N.toLocaleString('en')} re-attached jobs read their own results`,
  )
  t.ok(attached.every((j) => j.state === 'COMPLETED'))
})

t.test('asCompleted yields in the order the jobs end, while the consumer is slower than they end', async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: path.join(dir, '%j'), maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const n = 60
  const jobs = await ex.mapArray(
    sleepMs,
    Array.from({ length: n }, (_, i) => (i * 7) % 30),
    Array.from({ length: n }, (_, i) => i),
  )
  // the order their wait() resolves in, seen by a listener registered just before asCompleted's
  const ended: Job<number>[] = []
  for (const j of jobs) void j.wait().then(() => ended.push(j))
  const yielded: Job<number>[] = []
  let notDone = 0
  for await (const job of asCompleted([...jobs, jobs[0]])) {
    // a job given twice comes once
    if (!job.done()) notDone++
    yielded.push(job)
    await new Promise((r) => setTimeout(r, 15)) // meanwhile, more jobs end and wait in the queue
  }
  t.equal(yielded.length, n)
  t.equal(notDone, 0, 'every job is done when yielded')
  t.same(
    yielded.map((j) => j.jobId),
    ended.map((j) => j.jobId),
    'in the order they ended',
  )
})

t.test('a chunk file written after a lookup missed is found from the next turn of the event loop', async (t) => {
  const dir = t.testdir()
  const chunk = (a: number, b: number) => fs.writeFileSync(path.join(dir, `A_${a}-${b}_0_result.v8`), '')
  chunk(0, 9)
  chunk(20, 29)
  t.equal(findChunkFile(dir, 'A', 5, 0), path.join(dir, 'A_0-9_0_result.v8'))
  t.equal(findChunkFile(dir, 'A', 25, 0), path.join(dir, 'A_20-29_0_result.v8'))
  t.equal(findChunkFile(dir, 'A', 15, 0), undefined)
  t.equal(findChunkFile(dir, 'A', 5, 1), undefined, 'another task')
  t.equal(findChunkFile(dir, 'B', 5, 0), undefined, 'another array')
  chunk(10, 19)
  t.equal(findChunkFile(dir, 'A', 15, 0), undefined, 'the same turn: one listing per folder')
  await new Promise((r) => setImmediate(r))
  t.equal(findChunkFile(dir, 'A', 15, 0), path.join(dir, 'A_10-19_0_result.v8'), 'the next turn lists again')
  chunk(30, 39)
  const m = mark()
  forgetListing(dir, m)
  t.equal(findChunkFile(dir, 'A', 35, 0), path.join(dir, 'A_30-39_0_result.v8'), 'a listing older than a mark is forgotten')
  chunk(40, 49)
  forgetListing(dir, m)
  t.equal(findChunkFile(dir, 'A', 45, 0), undefined, 'a listing made after the mark is kept')
})
