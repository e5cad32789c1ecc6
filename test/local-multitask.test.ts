// tasksPerNode > 1: one job, several tasks, each with its own rank.
import t from 'tap'
import { FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { env, failsOnRank } from '../dist/fixtures/tasks.js'
import { failsFromRank } from '../dist/fixtures/core-tasks.js'
import { rejection } from './helpers/waiting.js'

t.test('tasksPerNode: 2 → results() gives one entry per rank', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2, tasksPerNode: 2 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(env)
  t.equal(job.numTasks, 2)
  const results = await job.results()
  t.same(results, [
    { jobId: job.jobId, globalRank: 0, localRank: 0, numTasks: 2, node: 0, numNodes: 1 },
    { jobId: job.jobId, globalRank: 1, localRank: 1, numTasks: 2, node: 0, numNodes: 1 },
  ])
  t.equal(job.state, 'COMPLETED')
  t.same(await job.task(1).result(), results[1], 'job.task(rank).result()')
  t.throws(() => job.task(2), RangeError)
  const e = await rejection(job.result())
  t.match(e.message, /has 2 tasks: use results\(\)/, 'result() refuses a multi-task job')
  t.ok(job.paths.resultFile(1).endsWith(`${job.jobId}_1_result.v8`))
})

t.test('nodes × tasksPerNode ranks in an array', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2, tasksPerNode: 2, nodes: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(failsOnRank, [-1, -1, -1])
  for (const job of jobs) t.same(await job.results(), [0, 1, 2, 3], `${job.jobId}: ranks 0..3`)
  const envs = await (await ex.submit(env)).results()
  t.same(
    envs.map((e) => [e.globalRank, e.localRank, e.node, e.numNodes, e.numTasks]),
    [
      [0, 0, 0, 2, 4],
      [1, 1, 0, 2, 4],
      [2, 0, 1, 2, 4],
      [3, 1, 1, 2, 4],
    ],
  )
})

t.test('exception() reports the lowest failing rank', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2, tasksPerNode: 4 })
  t.teardown(() => ex.shutdown())
  const one = await ex.submit(failsOnRank, 1)
  const e1 = (await one.exception()) as FailedJobError
  t.type(e1, FailedJobError)
  t.match(e1.message, /\(task 1\) failed: Error: rank 1 fails/)
  t.equal(one.state, 'FAILED')
  t.equal(await one.task(0).result(), 0, 'the other ranks completed')
  t.equal(await one.task(3).result(), 3)
  t.match((await rejection(one.results())).message, /rank 1 fails/, 'results() throws for the failing rank')

  const several = await ex.submit(failsFromRank, 2) // ranks 2 and 3 fail
  const e2 = (await several.exception()) as FailedJobError
  t.match(e2.message, /\(task 2\) failed: Error: rank 2 fails/, 'the lowest failing rank')
  t.same(e2.logs, { stdout: several.paths.stdout(2), stderr: several.paths.stderr(2) }, 'logs of that rank')
  t.match(several.stderr(2), /rank 2 fails/)
  t.match(several.stderr(3), /rank 3 fails/)
  t.equal(several.stderr(0), null)
})
