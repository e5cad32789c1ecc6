// The worker CLI runs one element of an existing submission, as a batch script does on a node.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { attachJob, DebugExecutor, type FailedJobError } from '../dist/lib/index.js'
import { add, chatty, env, fails, square } from '../dist/fixtures/tasks.js'
import { WORKER_MAIN as MAIN } from './helpers/paths.js'
import { plainEnv, runNode } from './helpers/processes.js'

// the DebugExecutor writes a submission and runs nothing until asked: the CLI runs it instead
t.test('--array-id A --index i runs that element, writes its result file and exits 0', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const ex = new DebugExecutor({ folder })
  const jobs = await ex.mapArray(square, [3, 4, 5])
  const arrayId = jobs[0].jobId.replace(/_0$/, '')
  const r = await runNode([MAIN, folder, '--array-id', arrayId, '--index', '1'])
  t.equal(r.code, 0, `exit code 0 ${r.stderr}`)
  t.ok(fs.existsSync(jobs[1].paths.resultFile(0)), 'wrote A_1_0_result.v8')
  t.notOk(fs.existsSync(jobs[0].paths.resultFile(0)), 'did not run element 0')
  t.notOk(fs.existsSync(jobs[2].paths.resultFile(0)), 'did not run element 2')
  const attached = attachJob<number>(folder, jobs[1].jobId)
  t.equal(attached.state, 'COMPLETED')
  t.equal(await attached.result(), 16)
})

t.test('a single job: --array-id only', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const job = await new DebugExecutor({ folder }).submit(add, 20, 1)
  const r = await runNode([MAIN, folder, '--array-id', job.jobId])
  t.equal(r.code, 0, `exit code 0 ${r.stderr}`)
  t.equal(await attachJob<number>(folder, job.jobId).result(), 21)
})

t.test('a task that throws: exit code 1, the error in the result file', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const jobs = await new DebugExecutor({ folder }).mapArray(fails, ['cli failure'])
  const arrayId = jobs[0].jobId.replace(/_0$/, '')
  const r = await runNode([MAIN, folder, '--array-id', arrayId, '--index', '0'])
  t.equal(r.code, 1, 'exit code 1')
  t.ok(fs.existsSync(jobs[0].paths.resultFile(0)), 'the result file was written')
  const attached = attachJob(folder, jobs[0].jobId)
  t.equal(attached.state, 'FAILED')
  const e = (await attached.exception()) as FailedJobError
  t.match(e.message, /ValidationError: cli failure/)
  t.match(e.remoteStack, /fixtures[\\/]tasks/)
  t.equal((e.cause as { code?: string }).code, 'E_BAD')
})

t.test('ids from the environment; output left on the process streams; --task sets the rank', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const ex = new DebugExecutor({ folder })
  const [job] = await ex.mapArray(chatty, [8])
  const arrayId = job.jobId.replace(/_0$/, '')
  const r = await runNode([MAIN, folder], { env: plainEnv({ SUBMITIT_ARRAY_ID: arrayId, SUBMITIT_INDEX: '0' }) })
  t.equal(r.code, 0, `exit code 0 ${r.stderr}`)
  t.match(r.stdout, /^out 8$/m, 'stdout goes to the process (the batch system captures it)')
  t.match(r.stderr, /^err 8$/m)
  t.equal(await attachJob<number>(folder, job.jobId).result(), 8)

  ex.updateParameters({ tasksPerNode: 2 })
  const multi = await ex.submit(env)
  const r1 = await runNode([MAIN, folder, '--array-id', multi.jobId, '--task', '1'])
  t.equal(r1.code, 0, `exit code 0 ${r1.stderr}`)
  t.ok(fs.existsSync(multi.paths.resultFile(1)), 'task 1 wrote its own result file')
  t.notOk(fs.existsSync(multi.paths.resultFile(0)))
  const r0 = await runNode([MAIN, folder, '--array-id', multi.jobId, '--task', '0'])
  t.equal(r0.code, 0, `exit code 0 ${r0.stderr}`)
  const results = await attachJob<{ globalRank: number }>(folder, multi.jobId).results()
  t.same(
    results.map((x) => x.globalRank),
    [0, 1],
  )
})

t.test('usage errors exit 2 with a message', async (t) => {
  const dir = t.testdir()
  const none = await runNode([MAIN])
  t.equal(none.code, 2)
  t.match(none.stderr, /usage: main\.js <folder template>/)
  const noId = await runNode([MAIN, dir])
  t.equal(noId.code, 2)
  t.match(noId.stderr, /no job id/)
})
