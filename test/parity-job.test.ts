// submitit parity, the Job API: stdout()/stderr() of a multi-task job, task(0) of a single-task job,
// JobTask as a job, a job that left no result, the DebugExecutor's own error objects, hostnames.
import os from 'node:os'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { DebugExecutor, expandNodeList, FailedJobError, Job, JobEnvironment, JobPaths, JobTask, LocalExecutor, UncompletedJobError } from '../dist/lib/index.js'
import { failsOnRank } from '../dist/fixtures/tasks.js'
import { cluster, failsMine, failsMineSync, hostnames, MyError, rankChatty } from '../dist/fixtures/parity-tasks.js'
import { rejection } from './helpers/waiting.js'

t.test("a multi-task job: stdout() and stderr() give every task's output, as submitit's", async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2, tasksPerNode: 3 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(rankChatty)
  t.same(await job.results(), [0, 1, 2])
  t.equal(job.stdout(), 'out 0\n\nout 1\n\nout 2\n', 'in rank order, joined by a newline')
  t.equal(job.stderr(), 'err 0\n\nerr 1\n\nerr 2\n')
  t.equal(job.stdout(1), 'out 1\n', "one task's with its rank")
  t.equal((job.task(2) as JobTask<number>).stderr(), 'err 2\n')
  const silent = await ex.submit(failsOnRank, -1)
  await silent.wait()
  t.equal(silent.stdout(), null, 'null when no task printed')
})

t.test('task(0) of a single-task job is the job; a JobTask has state, done, wait, cancel, exception', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const single = await ex.submit(failsOnRank, -1)
  t.equal(single.task(0), single, "the job itself, as submitit's")
  t.throws(() => single.task(1), RangeError)

  ex.updateParameters({ tasksPerNode: 2 })
  const multi = await ex.submit(failsOnRank, 1)
  const [t0, t1] = [multi.task(0), multi.task(1)] as JobTask<number>[]
  t.type(t0, JobTask)
  await t1.wait()
  t.ok(t0.done() && t1.done())
  t.equal(multi.state, 'FAILED')
  t.equal(t0.state, 'COMPLETED', "a task's state is how it ended")
  t.equal(t1.state, 'FAILED')
  t.equal(await t0.exception(), null)
  t.match((await t1.exception())?.message, /\(task 1\) failed: Error: rank 1 fails/)
  t.equal(t0.jobId, multi.jobId)
  await t0.cancel() // the job has ended: nothing to do, and no error
  t.match(String(t1), /task 1, FAILED/)
})

/** A job whose backend says it ended, and which wrote no result. */
function endedWithoutResult(folder: string): Job<number> {
  const watcher = { state: () => 'FAILED' as const, waitFinal: async () => {}, cancel: async () => {} }
  return new Job<number>(new JobPaths(folder, '4242'), 1, watcher, 'nonce')
}

t.test('a job that left no result says so, and shows no "remote" stack of the client', async (t) => {
  const folder = t.testdir()
  const job = endedWithoutResult(folder)
  const e = (await rejection(job.result())) as FailedJobError
  t.type(e, FailedJobError)
  t.type(e.cause, UncompletedJobError)
  t.match(
    e.message,
    /job 4242 ended as FAILED without writing its result file .*4242_0_result\.v8; no output was produced; check .*4242_0_log\.err and .*4242_0_log\.out/,
  )
  t.notMatch(e.message, /remote stack/)
  t.equal(e.remoteStack, undefined, 'no remote stack: nothing ran remotely that we know of')
  t.same(e.logs, { stdout: job.paths.stdout(0), stderr: job.paths.stderr(0) })

  // what its logs hold is shown once
  fs.mkdirSync(path.dirname(job.paths.stderr(0)), { recursive: true })
  fs.writeFileSync(job.paths.stderr(0), 'line 1\nKILLED BY THE OOM KILLER\n')
  const again = (await rejection(endedWithoutResult(folder).result())) as FailedJobError
  t.match(again.message, /its stderr \(.*4242_0_log\.err\) ends with:\nline 1\nKILLED BY THE OOM KILLER/)
  t.equal(again.message.split('OOM KILLER').length, 2, 'the log tail appears once')
  fs.rmSync(job.paths.stderr(0))
  fs.writeFileSync(job.paths.stdout(0), 'step 9\n')
  const out = await endedWithoutResult(folder).exception()
  t.match(out?.message, /it wrote nothing to stderr; its stdout \(.*4242_0_log\.out\) ends with:\nstep 9/)
})

t.test("on the DebugExecutor a task's own error comes back as that very object", async (t) => {
  const folder = t.testdir()
  const ex = new DebugExecutor({ folder: `${folder}/%j` })
  for (const fn of [failsMine, failsMineSync]) {
    const job = await ex.submit(fn, 'mine')
    const e = (await rejection(job.result())) as FailedJobError
    t.type(e, FailedJobError, 'result() throws a FailedJobError as on every backend')
    t.ok(e.cause instanceof MyError, `${fn.name}: its cause is the task's own MyError`)
    t.equal((e.cause as MyError).explain(), `mine (${fn === failsMine ? 42 : 7})`, 'with its methods')
    t.match(e.remoteStack, /MyError: mine/)
    t.ok((await job.exception())?.cause instanceof MyError, 'exception() too')
  }
  const job = await ex.submit(failsMine, 'file')
  await job.wait()
  t.ok(fs.existsSync(job.paths.resultFile(0)), 'the result file is written as before')

  // elsewhere the error crosses a thread: its name and properties, not its class (not serializable)
  const local = new LocalExecutor({ folder: `${folder}/local/%j`, maxWorkers: 1 })
  t.teardown(() => local.shutdown())
  const l = (await rejection((await local.submit(failsMine, 'thread')).result())) as FailedJobError
  t.notOk(l.cause instanceof MyError)
  t.equal((l.cause as Error).name, 'MyError')
})

t.test('JobEnvironment.hostnames: the expanded SLURM_JOB_NODELIST, this host elsewhere', async (t) => {
  // submitit's test_slurm_node_list cases
  const cases: [string, string[]][] = [
    ['compute-b24', ['compute-b24']],
    ['compute-a1,compute-b2', ['compute-a1', 'compute-b2']],
    ['compute-b2[1,2]', ['compute-b21', 'compute-b22']],
    ['compute-b2[011,022]', ['compute-b2011', 'compute-b2022']],
    ['compute-b2[1-3]', ['compute-b21', 'compute-b22', 'compute-b23']],
    ['compute-b2[1-3,5-6,8],compute-a1', ['compute-b21', 'compute-b22', 'compute-b23', 'compute-b25', 'compute-b26', 'compute-b28', 'compute-a1']],
    ['compute[042-043,045,048-049]', ['compute042', 'compute043', 'compute045', 'compute048', 'compute049']],
    ['node[1-3,7],gpu05', ['node1', 'node2', 'node3', 'node7', 'gpu05']],
    ['n[01-03]', ['n01', 'n02', 'n03']],
    ['n[8-10]', ['n8', 'n9', 'n10']],
    ['r[1-2]n[1-2]', ['r1n1', 'r1n2', 'r2n1', 'r2n2']],
  ]
  for (const [list, hosts] of cases) t.same(expandNodeList(list), hosts, list)
  t.throws(() => expandNodeList('node[1-3'), /unrecognized SLURM_JOB_NODELIST/)

  const info = {
    jobId: '1',
    arrayJobId: '1',
    arrayTaskId: null,
    numTasks: 2,
    numNodes: 2,
    node: 0,
    globalRank: 0,
    localRank: 0,
    folderTemplate: '/tmp/%j',
    restarts: 0,
  }
  const before = process.env.SLURM_JOB_NODELIST
  process.env.SLURM_JOB_NODELIST = 'gpu[01-02]'
  t.teardown(() => {
    if (before === undefined) delete process.env.SLURM_JOB_NODELIST
    else process.env.SLURM_JOB_NODELIST = before
  })
  t.same(new JobEnvironment({ ...info, backend: 'slurm' }).hostnames, ['gpu01', 'gpu02'], 'on Slurm')
  t.same(new JobEnvironment({ ...info, backend: 'local' }).hostnames, [os.hostname()], 'locally: this host, whatever the environment says')
  delete process.env.SLURM_JOB_NODELIST
  t.same(new JobEnvironment({ ...info, backend: 'slurm' }).hostnames, [os.hostname()], 'on Slurm without the variable: this host')

  const folder = t.testdir()
  const ex = new DebugExecutor({ folder: `${folder}/%j` })
  t.same(await (await ex.submit(hostnames)).result(), [os.hostname()], 'from a task')
})

t.test("JobEnvironment.cluster names the backend running the job, as submitit's env.cluster", async (t) => {
  const folder = t.testdir()
  const local = new LocalExecutor({ folder: `${folder}/local/%j`, maxWorkers: 1 })
  t.teardown(() => local.shutdown())
  t.equal(await (await local.submit(cluster)).result(), 'local')
  const debug = new DebugExecutor({ folder: `${folder}/debug/%j` })
  t.equal(await (await debug.submit(cluster)).result(), 'debug')
  t.throws(() => JobEnvironment.current().cluster, /outside a submitit-ts job/, 'outside a job there is none')
})
