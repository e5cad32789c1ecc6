// Cancelling many Slurm jobs at once: one scancel process for all of them, not one per job, and the
// command line's cancel of an array waits for all its jobs together (one after the other, each job
// waited for the next poll: an array of 60 took 4.5 minutes on the test cluster). Fake commands.
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { CLI, FAKE_SLURM_BIN } from './helpers/paths.js'
import { runNode } from './helpers/processes.js'
import { until } from './helpers/waiting.js'

const N = 150

t.test('cancelling every job of an array: one scancel call, every job CANCELLED', async (t) => {
  const dir = t.testdir()
  const slurm = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs', '%j'), commands: slurm.commands })
  const jobs = await ex.mapArray(add, Array(N).fill(1), Array(N).fill(2))
  slurm.write('sacct.txt', `1000_[0-${N - 1}]|CANCELLED by 0|0:0|None\n`)
  await Promise.all(jobs.map((j) => j.cancel()))
  const calls = slurm.calls('scancel')
  t.equal(calls.length, 1, 'one scancel')
  t.same(slurm.cancelled().sort(), jobs.map((j) => j.jobId).sort(), 'for every job')
  t.same(new Set(jobs.map((j) => j.state)), new Set(['CANCELLED']))
  await ex.shutdown()
})

t.test('the command line: cancel of a whole array is one scancel and one wait', async (t) => {
  const dir = t.testdir()
  const slurm = fakeSlurm(dir)
  const folder = path.join(dir, 'logs', '%j')
  const ex = new SlurmExecutor({ folder, commands: slurm.commands })
  const jobs = await ex.mapArray(add, Array(N).fill(1), Array(N).fill(2))
  await ex.shutdown()
  slurm.write('sacct.txt', `1000_[0-${N - 1}]|PENDING|0:0|Priority\n`)
  const done = runNode([CLI, 'cancel', folder, '1000'], { env: { ...slurm.env, SUBMITIT_SLURM_BIN_DIR: FAKE_SLURM_BIN }, timeoutMs: 120_000 })
  // the fake scancel records the call; the scheduler then reports the jobs cancelled
  await until(() => slurm.calls('scancel').length > 0, 60_000, 'a scancel')
  slurm.write('sacct.txt', `1000_[0-${N - 1}]|CANCELLED by 0|0:0|None\n`)
  const r = await done
  t.equal(r.code, 0, r.stderr)
  t.equal(slurm.calls('scancel').length, 1, 'one scancel')
  t.same(slurm.cancelled().sort(), jobs.map((j) => j.jobId).sort())
  const lines = r.stdout.trim().split('\n')
  t.same(
    lines,
    jobs.map((j) => `${j.jobId}\tCANCELLED`),
    'each job, in order',
  )
})
