// Against the real cluster: arrayParallelism is the limit over the whole mapArray, also when the
// array is split into several Slurm arrays. The split is forced with the executor's maxArraySize
// (10; the code path is the one the cluster's MaxArraySize=120 takes, in a fraction of the time).
// Tasks record when they ran; the most that overlapped is counted (counts, not durations).
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { recordSpan } from '../dist/fixtures/slurm-tasks.js'
import { needsCluster } from './slurm-cluster.js'

const skip = needsCluster(t)

/** The largest number of [start, end] spans that overlap at one instant. */
function maxOverlap(spans: [number, number][]): number {
  const events = spans.flatMap(
    ([s, e]) =>
      [
        [s, 1],
        [e, -1],
      ] as [number, number][],
  )
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]) // an end before a start at the same instant
  let now = 0
  let max = 0
  for (const [, d] of events) max = Math.max(max, (now += d))
  return max
}

t.test('arrayParallelism: 2 over 25 elements split into 3 arrays: never more than 2 at once', { ...skip, timeout: 280_000 }, async (t) => {
  const dir = t.testdir()
  const spans = path.join(dir, 'spans')
  fs.mkdirSync(spans)
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), timeoutMin: 5, arrayParallelism: 2, maxArraySize: 10 })
  const n = 25
  const jobs = await ex.mapArray(
    recordSpan,
    Array(n).fill(spans),
    Array.from({ length: n }, (_, i) => i),
    Array(n).fill(1500),
  )
  t.equal(new Set(jobs.map((j) => j.paths.arrayId)).size, 3, 'three arrays')
  t.same(
    await Promise.all(jobs.map((j) => j.result())),
    Array.from({ length: n }, (_, i) => i),
    'every element, in order',
  )
  const recorded = fs.readdirSync(spans).map((f) => fs.readFileSync(path.join(spans, f), 'utf8').split(' ').map(Number) as [number, number])
  t.equal(recorded.length, n)
  const most = maxOverlap(recorded)
  t.ok(most <= 2, `at most 2 at once (seen: ${most})`)
  t.ok(most >= 2, 'and the limit was used (2 at once within a part)')
})
