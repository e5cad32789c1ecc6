// isolation: 'process': each job in a process of its own, as on a node — its own globals,
// process.env and working directory, a heap limit from memGb, timeouts, cancel, checkpoints; and
// nothing left running when the submitter dies.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { type FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { busyMs, exits } from '../dist/fixtures/tasks.js'
import { allocate, isolationProbe, pidThenWait, resumableSteps, threadProbe } from '../dist/fixtures/trust-tasks.js'
import { distUrl } from './helpers/paths.js'
import { isAlive, startNode, writeScript } from './helpers/processes.js'
import { rejection, until } from './helpers/waiting.js'

/** The pid a job wrote into `file` (pidThenWait), 0 while there is none. */
const pidIn = (file: string): number => (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) || 0 : 0)

t.test('each job has its own process: globals, process.env, working directory', async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 2, isolation: 'process' })
  t.teardown(() => ex.shutdown())
  const cwdBefore = process.cwd()
  const jobs = await ex.mapArray(isolationProbe, Array(4).fill(dir))
  const r = await Promise.all(jobs.map((j) => j.result()))
  t.same(
    r.map((x) => x.envBefore),
    [null, null, null, null],
    "no job sees another's process.env",
  )
  t.same(
    r.map((x) => x.runs),
    [1, 1, 1, 1],
    "no job sees another's globals",
  )
  t.same(
    r.map((x) => x.cwd),
    Array(4).fill(fs.realpathSync(dir)),
    'process.chdir works',
  )
  t.equal(new Set(r.map((x) => x.pid)).size, 4, 'four processes')
  t.notOk(r.some((x) => x.pid === process.pid))
  t.equal(process.cwd(), cwdBefore, "the caller's working directory is untouched")
  t.equal(process.env.SUBMITIT_PROBE, undefined)
})

t.test('threads share a process, as the README says: globals and process.env live on in a thread, the caller changes neither, chdir throws', async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const first = await (await ex.submit(threadProbe, dir)).result()
  t.same(first, { envBefore: null, runs: 1, callerVar: null, chdir: 'ERR_WORKER_UNSUPPORTED_OPERATION' }, 'process.chdir throws in a thread')
  // the thread's environment is its own copy, made when the pool started
  process.env.SUBMITIT_CALLER_PROBE = 'set after the pool started'
  t.teardown(() => {
    delete process.env.SUBMITIT_CALLER_PROBE
  })
  const second = await (await ex.submit(threadProbe, dir)).result()
  t.same(
    second,
    { envBefore: 'changed', runs: 2, callerVar: null, chdir: 'ERR_WORKER_UNSUPPORTED_OPERATION' },
    "the thread's earlier job left its global and env",
  )
  t.equal(process.env.SUBMITIT_THREAD_PROBE, undefined, "the caller's process.env is untouched")
})

t.test("timeout, cancel and process.exit end the job's process and only that job", async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 2, isolation: 'process', timeoutMin: 0.01 })
  t.teardown(() => ex.shutdown())
  const slow = await ex.submit(busyMs, 60_000)
  t.equal((await slow.exception())?.state, 'TIMEOUT')
  const pidFile = path.join(dir, 'pid')
  ex.updateParameters({ timeoutMin: 5 })
  const waiting = await ex.submit(pidThenWait, pidFile, 600_000)
  // the file exists a moment before the pid is in it
  await until(() => pidIn(pidFile) > 0, 30_000, 'the job to start')
  const pid = pidIn(pidFile)
  await waiting.cancel()
  t.equal(waiting.state, 'CANCELLED')
  await until(() => !isAlive(pid), 10_000, "the cancelled job's process to end")
  const exiting = await ex.submit(exits, 3)
  const e = (await exiting.exception()) as FailedJobError
  t.equal(exiting.state, 'FAILED')
  t.match(e.message, /called process\.exit\(3\)/)
})

t.test("memGb limits a job's heap: a job past it fails alone", async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 1, isolation: 'process', memGb: 0.05 })
  t.teardown(() => ex.shutdown())
  const big = await ex.submit(allocate, 400)
  const e = (await rejection(big.result())) as FailedJobError
  t.equal(big.state, 'FAILED')
  t.match(e.message, /its process ended/)
  t.equal(await (await ex.submit(allocate, 1)).result(), 1)
})

t.test('a checkpointable job in its own process is warned over IPC and requeued', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'steps.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, isolation: 'process', timeoutMin: 0.02, maxNumTimeout: 20 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(resumableSteps, log, 25, 0, 100)
  const r = await job.result()
  t.ok(r.restarts >= 1, `requeued ${r.restarts} times`)
  const steps = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map(Number)
  t.same(
    [...new Set(steps)].sort((a, b) => a - b),
    Array.from({ length: 25 }, (_, i) => i),
  )
})

t.test("the submitter killed with SIGKILL: its jobs' processes end too", async (t) => {
  const dir = t.testdir()
  const pidFile = path.join(dir, 'pid')
  const script = writeScript(
    dir,
    'main.mjs',
    `
    import { LocalExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
    import { pidThenWait } from ${JSON.stringify(distUrl('fixtures/trust-tasks.js'))}
    const ex = new LocalExecutor({ folder: ${JSON.stringify(path.join(dir, '%j'))}, maxWorkers: 1, isolation: 'process' })
    await ex.submit(pidThenWait, ${JSON.stringify(pidFile)}, 600000)
    console.log('SUBMITTED')
  `,
  )
  const { child } = await startNode([script], /SUBMITTED/)
  // the file exists a moment before the pid is in it
  await until(() => pidIn(pidFile) > 0, 30_000, 'the job to start')
  const pid = pidIn(pidFile)
  t.ok(isAlive(pid))
  child.kill('SIGKILL')
  await until(() => !isAlive(pid), 15_000, "the job's process to end")
  t.pass('nothing left running')
})
