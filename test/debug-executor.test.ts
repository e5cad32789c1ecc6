// DebugExecutor: same files as the others, but each job runs in this thread when first waited for.
import fs from 'node:fs'
import { threadId } from 'node:worker_threads'
import t from 'tap'
import { attachJob, DebugExecutor, FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { add, chatty, env, fails, movePoint, Point } from '../dist/fixtures/tasks.js'
import { touch, where } from '../dist/fixtures/core-tasks.js'
import { listFiles } from './helpers/files.js'
import { rejection } from './helpers/waiting.js'

t.test('a job is PENDING until its result is asked for, then runs in this thread', async (t) => {
  const folder = t.testdir()
  const ex = new DebugExecutor({ folder: `${folder}/%j` })
  const marker = `${folder}/ran`
  const job = await ex.submit(touch, marker, 5)
  t.equal(job.state, 'PENDING')
  t.ok(fs.existsSync(job.paths.submitted), 'the submission file is written at submit')
  t.notOk(fs.existsSync(marker), 'the task has not run')
  t.notOk(fs.existsSync(job.paths.resultFile(0)), 'no result file yet')
  t.equal(job.state, 'PENDING', 'reading the state does not run it')
  t.equal(await job.result(), 5)
  t.ok(fs.existsSync(marker), 'it ran')
  t.equal(job.state, 'COMPLETED')
  t.ok(fs.existsSync(job.paths.resultFile(0)), 'the same result file as the other backends')
  t.equal(await attachJob<number>(`${folder}/%j`, job.jobId).result(), 5, 'readable by attachJob')

  const w = await (await ex.submit(where)).result()
  t.same(w, { pid: process.pid, threadId }, 'in this process and thread')
  const e = await (await ex.submit(env)).result()
  t.equal(e.globalRank, 0)
  const moved = await (await ex.submit(movePoint, new Point(1, 1), 1)).result()
  t.ok(moved instanceof Point, 'values go through the same encoding')
})

t.test('errors keep their stack; logs are written (and shown)', async (t) => {
  const folder = t.testdir()
  const ex = new DebugExecutor({ folder: `${folder}/%j` })
  const job = await ex.submit(fails, 'debug failure')
  const e = (await rejection(job.result())) as FailedJobError
  t.type(e, FailedJobError)
  t.equal(job.state, 'FAILED')
  t.match(e.remoteStack, /ValidationError: debug failure/)
  t.match(e.remoteStack, /fixtures[\\/]tasks/)
  t.equal((e.cause as { code?: string }).code, 'E_BAD')
  t.equal((await job.exception())?.remoteStack, e.remoteStack)

  const chat = await ex.submit(chatty, 4)
  t.equal(await chat.result(), 4)
  t.equal(chat.stdout(), 'out 4\n')
  t.equal(chat.stderr(), 'err 4\n')
  const silent = await ex.submit(add, 1, 1)
  await silent.wait()
  t.same(
    listFiles(`${folder}/${silent.jobId}`).filter((f) => f.includes('_log.')),
    [],
    'no log file for a silent task',
  )
})

t.test('arrays, multi-task jobs and cancel', async (t) => {
  const folder = t.testdir()
  const ex = new DebugExecutor({ folder: `${folder}/%j` })
  const jobs = await ex.mapArray(add, [1, 2, 3], [10, 20, 30])
  t.ok(jobs.every((j, i) => j.jobId.endsWith(`_${i}`)))
  t.same(await Promise.all(jobs.map((j) => j.result())), [11, 22, 33])
  ex.updateParameters({ tasksPerNode: 3 })
  const multi = await ex.submit(env)
  t.same(
    (await multi.results()).map((r) => r.globalRank),
    [0, 1, 2],
  )
  ex.updateParameters({ tasksPerNode: 1 })
  const marker = `${folder}/cancelled-ran`
  const cancelled = await ex.submit(touch, marker, 1)
  await cancelled.cancel()
  t.equal(cancelled.state, 'CANCELLED')
  t.equal(((await rejection(cancelled.result())) as FailedJobError).state, 'CANCELLED')
  t.notOk(fs.existsSync(marker), 'a cancelled debug job never runs')
})

t.test("the files on disk are the same as the LocalExecutor's", async (t) => {
  const folder = t.testdir()
  const layout = (jobId: string, dir: string) => listFiles(dir).map((f) => f.replaceAll(jobId, 'J'))
  const debug = new DebugExecutor({ folder: `${folder}/debug/%j` })
  const local = new LocalExecutor({ folder: `${folder}/local/%j`, maxWorkers: 1 })
  t.teardown(() => local.shutdown())
  const dj = await debug.submit(chatty, 1)
  const lj = await local.submit(chatty, 1)
  await Promise.all([dj.wait(), lj.wait()])
  const d = layout(dj.jobId, `${folder}/debug`)
  t.same(d, ['J/J_0_log.err', 'J/J_0_log.out', 'J/J_0_result.v8', 'J/J_submitted.v8'])
  t.same(layout(lj.jobId, `${folder}/local`), d)
})
