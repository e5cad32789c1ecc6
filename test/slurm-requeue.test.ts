// Bounded requeue (maxNumTimeout) and time limit vs preemption, against the fake Slurm commands: the
// worker runs as a batch script would run it, with the script's environment, and gets real SIGUSR2s;
// the fake scontrol records the requeues. The real cluster: slurm-integration-requeue.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { FailedJobError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { makeBatchScript } from '../dist/lib/slurm/script.js'
import { slurmTimeSeconds } from '../dist/lib/slurm/params.js'
import { decide, isTimeLimitWarning } from '../dist/lib/slurm/requeue.js'
import { resumableCount } from '../dist/fixtures/tasks.js'
import { checkpointThrows } from '../dist/fixtures/audit-tasks.js'
import { slowStartCount } from '../dist/fixtures/slow-start-tasks.js'
import { until } from './helpers/waiting.js'
import { restartsAfter } from '../dist/fixtures/slurm-tasks.js'
import { awaitsWarning, busyCount, exhaustsHeap, slowCheckpoint } from '../dist/fixtures/busy-tasks.js'
import { readCheckpoint } from '../dist/lib/core/format.js'
import { FAKE_SLURM_BIN as fakeBin, WORKER_MAIN as MAIN } from './helpers/paths.js'
import { plainEnv } from './helpers/processes.js'

t.test('time limit or preemption, and what to do', async (t) => {
  const s = { timeLimitS: 3600, signalDelayS: 90 }
  t.notOk(isTimeLimitWarning(60, s), 'a warning after a minute of an hour: a preemption')
  t.notOk(isTimeLimitWarning(3600 - 181, s))
  t.ok(isTimeLimitWarning(3600 - 180, s), 'within delay + 90 s of the limit: the time limit')
  t.ok(isTimeLimitWarning(10, {}), 'an unknown limit counts as a time limit (bounded)')
  t.ok(isTimeLimitWarning(10, { timeLimitS: 120, signalDelayS: 90 }), 'a 2-minute job is always near its limit')
  t.same(decide(false, true, 5, 3), { kind: 'checkpoint-requeue', countsTimeout: false }, 'preemptions do not count')
  t.same(decide(false, false, 0, 3), { kind: 'requeue-from-scratch' })
  t.same(decide(true, false, 0, 3), { kind: 'go-on' })
  t.same(decide(true, true, 2, 3), { kind: 'checkpoint-requeue', countsTimeout: true })
  t.same(decide(true, true, 3, 3), { kind: 'give-up' })
  t.same(decide(true, true, 0, 0), { kind: 'give-up' })
  t.equal(slurmTimeSeconds('5'), 300)
  t.equal(slurmTimeSeconds('5:30'), 330)
  t.equal(slurmTimeSeconds('1:00:00'), 3600)
  t.equal(slurmTimeSeconds('2-0'), 172800)
  t.equal(slurmTimeSeconds('1-2:3:4'), 93784)
  t.equal(slurmTimeSeconds('UNLIMITED'), undefined)
})

t.test('the batch script tells the worker the limit, the delay, the requeues allowed and when the run started', async (t) => {
  const env = (params: object) => makeBatchScript({ params, folder: '/logs', command: ['x'] }).script
  const plain = env({})
  t.match(plain, /^export SUBMITIT_JOB_START="\$\(date \+%s\)"$/m)
  t.match(plain, /^export SUBMITIT_TIME_LIMIT_S=300$/m)
  t.match(plain, /^export SUBMITIT_SIGNAL_DELAY_S=90$/m)
  t.match(plain, /^export SUBMITIT_MAX_NUM_TIMEOUT=3$/m)
  const set = env({ additionalParameters: { time: '1-00:00:00' }, signalDelayS: 300, maxNumTimeout: 0 })
  t.match(set, /^export SUBMITIT_TIME_LIMIT_S=86400$/m, 'the limit as sbatch gets it')
  t.match(set, /^export SUBMITIT_SIGNAL_DELAY_S=300$/m)
  t.match(set, /^export SUBMITIT_MAX_NUM_TIMEOUT=0$/m)
  t.notMatch(env({ additionalParameters: { time: 'UNLIMITED' } }), /SUBMITIT_TIME_LIMIT_S/)
})

/** Submits through the fakes, then runs the job's worker as its batch script would, with `extra` env. */
async function node(t: { testdir: () => string }, submit: (ex: SlurmExecutor) => Promise<unknown>, extra: Record<string, string>) {
  const dir = t.testdir()
  const state = path.join(dir, 'slurm-state')
  fs.mkdirSync(state)
  const folder = path.join(dir, 'logs')
  const ex = new SlurmExecutor({ folder, commands: { binDir: fakeBin, env: { ...process.env, FAKE_SLURM_DIR: state } } })
  const job = (await submit(ex)) as { result: () => Promise<unknown>; paths: { checkpoint: string; resultFile: (t: number) => string } }
  const nonce = /^export SUBMITIT_NONCE=(\S+)$/m.exec(fs.readFileSync(path.join(state, 'jobs', '1000.sh'), 'utf8'))![1]
  const env = plainEnv({
    PATH: `${fakeBin}:${process.env.PATH}`,
    FAKE_SLURM_DIR: state,
    SLURM_JOB_ID: '1000',
    SLURM_PROCID: '0',
    SUBMITIT_NONCE: nonce,
    SUBMITIT_JOB_START: String(Math.floor(Date.now() / 1000)),
    ...extra,
  })
  const child = spawn(process.execPath, [MAIN, folder], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += String(d)
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr += String(d)
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  // the task prints once it runs (the worker's SIGUSR2 handler is in place long before)
  const started = async () => {
    for (let i = 0; i < 1200 && !/step 2\b|started/.test(stdout); i++) await new Promise((r) => setTimeout(r, 50))
    if (!/step 2\b|started/.test(stdout)) throw new Error(`the task did not start: ${stderr}`)
  }
  const counts = () => JSON.parse(fs.readFileSync(path.join(folder, '1000_requeues.json'), 'utf8'))
  const requeued = () => (fs.existsSync(path.join(state, 'requeued')) ? fs.readFileSync(path.join(state, 'requeued'), 'utf8').trim().split('\n') : [])
  /** once the task runs, Slurm's warning (SIGUSR2); resolves with the worker's exit code */
  const warn = async () => {
    await started()
    child.kill('SIGUSR2')
    return exited
  }
  return { job, child, exited, warn, counts, requeued, folder, nonce, stderr: () => stderr, stdout: () => stdout }
}

const nearLimit = { SUBMITIT_TIME_LIMIT_S: '120', SUBMITIT_SIGNAL_DELAY_S: '90', SUBMITIT_MAX_NUM_TIMEOUT: '3' }
const earlyInAnHour = { SUBMITIT_TIME_LIMIT_S: '3600', SUBMITIT_SIGNAL_DELAY_S: '90', SUBMITIT_MAX_NUM_TIMEOUT: '3' }

t.test('time limit, with a checkpoint: saved, counted, requeued', async (t) => {
  const n = await node(t, (ex) => ex.submit(resumableCount, 1000, 0, 50), nearLimit)
  t.equal(await n.warn(), 0, n.stderr())
  t.same(n.requeued(), ['1000'])
  t.same(n.counts(), { nonce: n.nonce, timeouts: 1, preemptions: 0 })
  t.ok(fs.existsSync(n.job.paths.checkpoint), 'checkpoint saved')
  t.notOk(fs.existsSync(n.job.paths.resultFile(0)), 'no result: the job is not over')
  t.match(n.stderr(), /the time limit is near[\s\S]*requeueing job 1000 \(it resumes from its checkpoint; time limits so far: 1 of 3 allowed/)
})

t.test('time limit once the requeues allowed are spent: the job ends TIMEOUT, its result says so', async (t) => {
  const n = await node(t, (ex) => ex.submit(resumableCount, 1000, 0, 50), { ...nearLimit, SUBMITIT_MAX_NUM_TIMEOUT: '2' })
  fs.writeFileSync(path.join(n.folder, '1000_requeues.json'), JSON.stringify({ nonce: n.nonce, timeouts: 2, preemptions: 1 }))
  t.equal(await n.warn(), 1)
  t.same(n.requeued(), [], 'not requeued')
  const e = (await n.job.result().then(
    () => null,
    (err: Error) => err,
  )) as FailedJobError | null
  t.type(e, FailedJobError)
  t.equal(e?.state, 'TIMEOUT')
  t.match(
    e?.message,
    /ended as TIMEOUT: TimeoutError: job 1000 reached its time limit again after 2 requeue\(s\) for time limits, the most allowed \(maxNumTimeout: 2\)/,
  )
  t.ok(fs.existsSync(n.job.paths.checkpoint), 'the last checkpoint is saved all the same')
})

t.test("a countdown of another submission (a reused id) is not this job's", async (t) => {
  const n = await node(t, (ex) => ex.submit(resumableCount, 1000, 0, 50), nearLimit)
  fs.writeFileSync(path.join(n.folder, '1000_requeues.json'), JSON.stringify({ nonce: 'an-older-job', timeouts: 3, preemptions: 0 }))
  t.equal(await n.warn(), 0)
  t.same(n.counts(), { nonce: n.nonce, timeouts: 1, preemptions: 0 }, 'counted from zero for this submission')
})

t.test('preemption, with a checkpoint: requeued, and it does not use the time-limit requeues', async (t) => {
  const n = await node(t, (ex) => ex.submit(resumableCount, 1000, 0, 50), { ...earlyInAnHour, SUBMITIT_MAX_NUM_TIMEOUT: '0' })
  t.equal(await n.warn(), 0, n.stderr())
  t.same(n.requeued(), ['1000'])
  t.same(n.counts(), { nonce: n.nonce, timeouts: 0, preemptions: 1 })
  t.match(n.stderr(), /the job is preempted/)
})

t.test('preemption, without a checkpoint: requeued from scratch', async (t) => {
  const n = await node(t, (ex) => ex.submit(restartsAfter, 60_000), earlyInAnHour)
  t.equal(await n.warn(), 0, n.stderr())
  t.same(n.requeued(), ['1000'])
  t.notOk(fs.existsSync(n.job.paths.checkpoint), 'no checkpoint: the rerun starts from scratch')
  t.match(n.stderr(), /no checkpoint: it starts again from scratch/)
})

t.test('time limit, without a checkpoint: not requeued, the task goes on', async (t) => {
  const n = await node(t, (ex) => ex.submit(restartsAfter, 3000), nearLimit)
  t.equal(await n.warn(), 0, n.stderr())
  t.same(n.requeued(), [])
  t.equal(await n.job.result(), 0, 'it finished in the time left')
  t.match(n.stderr(), /a timed-out job is not requeued; it goes on/)
})

// Issue 8 item 9: the task runs in a thread, so a busy one is warned too (the main thread gets SIGUSR2)
const graceOf2s = { ...earlyInAnHour, SUBMITIT_CHECKPOINT_GRACE_S: '2' }
const savedArgs = (file: string) => readCheckpoint(file).args

t.test('a busy task that never yields nor saves: preempted, requeued from scratch after the grace', async (t) => {
  const n = await node(t, (ex) => ex.submit(busyCount, 100_000, 0, 50, 0, false), graceOf2s)
  t.equal(await n.warn(), 0, n.stderr())
  t.same(n.requeued(), ['1000'], 'requeued although the task never answered')
  t.match(
    n.stderr(),
    /the job is preempted[\s\S]*did not answer its checkpoint within 2 s[\s\S]*requeueing job 1000 \(no checkpoint: it starts again from scratch/,
  )
  t.notOk(fs.existsSync(n.job.paths.resultFile(0)), 'no result: the job is not over')
})

t.test('a checkpoint that throws: the node stops waiting at once, says so, and requeues from scratch', async (t) => {
  const n = await node(t, (ex) => ex.submit(checkpointThrows, 100_000, 50), { ...earlyInAnHour, SUBMITIT_CHECKPOINT_GRACE_S: '30' })
  t.equal(await n.warn(), 0, n.stderr())
  t.match(n.stderr(), /the checkpoint of job 1000 failed: Error: the checkpoint fails on purpose/)
  t.match(n.stderr(), /the checkpoint failed \(its error is above\)[\s\S]*requeueing job 1000 \(no checkpoint: it starts again from scratch/)
  t.notMatch(n.stderr(), /did not answer/, 'no grace waited: the failure told the node')
  t.same(n.requeued(), ['1000'])
})

// Slurm may send the end-of-job warning up to a minute early: with a 2-minute limit, seconds after
// the job starts, while the worker still starts the task's thread (here: its module takes 3 s to load)
t.test('a warning that comes before the task started is acted on once it runs', async (t) => {
  const n = await node(t, (ex) => ex.submit(slowStartCount, 1000, 0, 50), { ...earlyInAnHour, SLOW_START_MS: '3000' })
  // the module loads in the task's thread: the worker's own handlers are in place by then
  await until(() => /loading the task module/.test(n.stdout()), 60_000, 'the task module to load')
  n.child.kill('SIGUSR2')
  t.equal(await n.exited, 0, n.stderr())
  t.match(n.stderr(), /the task has not started yet: the warning is acted on once it runs[\s\S]*requeueing job 1000 \(it resumes from its checkpoint/)
  t.equal(n.stderr().match(/SIGUSR2 received/g)?.length, 1, 'one signal, logged as received once')
  t.same(n.requeued(), ['1000'], 'requeued, as a warning while it runs would')
})

t.test('a busy task that saves every few steps: its first save after the warning requeues it, from there', async (t) => {
  const n = await node(t, (ex) => ex.submit(busyCount, 100_000, 0, 50, 5, false), { ...earlyInAnHour, SUBMITIT_CHECKPOINT_GRACE_S: '600' })
  t.equal(await n.warn(), 0, n.stderr())
  t.same(n.requeued(), ['1000'])
  t.notMatch(n.stderr(), /did not answer/, 'no grace waited')
  t.match(n.stderr(), /requeueing job 1000 \(it resumes from its checkpoint/)
  const from = savedArgs(n.job.paths.checkpoint)[1] as number
  t.ok(from >= 5 && from % 5 === 0, `the rerun resumes from its own last save (step ${from})`)
})

t.test('a busy task that polls JobEnvironment.warned and saves: requeued at once, from where it was warned', async (t) => {
  const n = await node(t, (ex) => ex.submit(busyCount, 100_000, 0, 50, 0, true), { ...earlyInAnHour, SUBMITIT_CHECKPOINT_GRACE_S: '600' })
  t.equal(await n.warn(), 0, n.stderr())
  t.same(n.requeued(), ['1000'])
  t.notMatch(n.stderr(), /did not answer/, 'no grace waited: the save told the node')
  const warnedAfter = Number(/warned after step (\d+)/.exec(n.stdout())?.[1])
  t.equal(savedArgs(n.job.paths.checkpoint)[1], warnedAfter + 1, 'saved where it was warned')
})

t.test('a busy task at its time limit that saved nothing: requeued after the grace, from scratch', async (t) => {
  const n = await node(t, (ex) => ex.submit(busyCount, 30, 0, 50, 0, false), { ...nearLimit, SUBMITIT_CHECKPOINT_GRACE_S: '1' })
  t.equal(await n.warn(), 0, n.stderr())
  // it has a checkpoint function: requeued after the grace, from scratch (it saved nothing)
  t.same(n.requeued(), ['1000'])
  t.match(n.stderr(), /no checkpoint: it starts again from scratch/)
})

t.test('JobEnvironment.signal is aborted when the job is warned', async (t) => {
  const n = await node(t, (ex) => ex.submit(awaitsWarning, 60_000), nearLimit)
  t.equal(await n.warn(), 0, n.stderr())
  t.same(await n.job.result(), { aborted: true, reason: 'job 1000 was warned that it will end (time limit or preemption)' })
  t.same(n.requeued(), [], 'no checkpoint, a time limit: not requeued')
})

t.test('the task ends while its checkpoint is taken: its result stands, the job is not requeued', async (t) => {
  // the checkpoint function is called when the task yields; the task ends before it returns
  const n = await node(t, (ex) => ex.submit(slowCheckpoint, 300, 3000), earlyInAnHour)
  t.equal(await n.warn(), 0, n.stderr())
  t.same(n.requeued(), [])
  t.equal(await n.job.result(), 'done', 'the value of its only run')
  t.match(n.stderr(), /the task ended meanwhile: its result stands/)
})

t.test('the task ends while the requeue is under way: no result is written, the rerun gives it', async (t) => {
  const n = await node(t, (ex) => ex.submit(resumableCount, 8, 0, 100), { ...earlyInAnHour, FAKE_REQUEUE_DELAY_S: '3' })
  t.equal(await n.warn(), 0, n.stderr())
  t.match(n.stdout(), /step 7/, 'the task ended during the requeue')
  t.same(n.requeued(), ['1000'])
  t.notOk(fs.existsSync(n.job.paths.resultFile(0)), 'its result was held back: the requeued run writes the only one')
})

t.test('the thread dying without an outcome fails the job, it does not vanish', async (t) => {
  const n = await node(t, (ex) => ex.submit(exhaustsHeap, 1), { ...earlyInAnHour, SLURM_MEM_PER_NODE: '150' })
  t.equal(await n.exited, 1, n.stderr())
  const e = (await n.job.result().then(
    () => null,
    (err: Error) => err,
  )) as FailedJobError | null
  t.type(e, FailedJobError)
  t.match(e?.message, /WorkerCrashError: the thread running job 1000 died/)
})
