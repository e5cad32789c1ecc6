// Against the real cluster: what a hostile user met there (the fast versions of these run against
// the fake commands: slurm-requeued-done, slurm-node-faults, slurm-script).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { FailedJobError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { forever, whoAmI } from '../dist/fixtures/audit-tasks.js'
import { countedRun, runsIn } from '../dist/fixtures/pack-tasks.js'
import { needsCluster } from './slurm-cluster.js'
import { until } from './helpers/waiting.js'

const skip = needsCluster(t)
const opts = { ...skip, timeout: 280_000 }

/** What squeue says of job `id` ('' once it forgot it). */
const squeueState = (id: string) => {
  try {
    return execFileSync('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return ''
  }
}

t.test('scontrol requeue of a COMPLETED job: Slurm runs it again, its task does not run twice', opts, async (t) => {
  const dir = t.testdir()
  const ex = new SlurmExecutor({ folder: path.join(dir, '%j'), timeoutMin: 2 })
  const job = await ex.submit(countedRun, dir, 1, 0)
  t.equal(await job.result(), 2)
  const result = fs.readFileSync(job.paths.resultFile(0))
  await until(() => squeueState(job.jobId) === 'COMPLETED', 60_000, 'the controller has it COMPLETED', 200)
  execFileSync('scontrol', ['requeue', job.jobId])
  await until(() => /already has its result/.test(job.stderr() ?? ''), 200_000, 'the rerun ran and saw the result', 500)
  await until(() => squeueState(job.jobId) === 'COMPLETED', 60_000, 'the rerun COMPLETED', 200)
  t.same(runsIn(dir), [1], 'the task ran once')
  t.same(fs.readFileSync(job.paths.resultFile(0)), result, 'the result is the one read')
})

t.test('a setup line that fails: FAILED before the worker runs, naming the line', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 2, setup: ['export X=1', 'source /nonexistent/venv/bin/activate'] })
  const job = await ex.submit(whoAmI, 1)
  const e = await job.exception()
  t.type(e, FailedJobError)
  t.equal(job.state, 'FAILED')
  t.match(e?.message, 'setup line 2 of 2, "source /nonexistent/venv/bin/activate", exited with status 1: the job does not run')
})

t.test('a task whose promise never settles, with nothing left to wait for, fails at once saying so', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 2 })
  const job = await ex.submit(forever)
  const e = await job.exception()
  t.equal(job.state, 'FAILED')
  t.match(e?.message, /the task's promise never settled and it left nothing to wait for/)
})
