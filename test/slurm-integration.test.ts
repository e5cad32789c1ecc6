// Against the real single-node cluster (npm run slurm:start; .ci/run starts it with
// MaxArraySize=120 so that splitting is exercised). Real sbatch, srun, sacct, squeue, scancel.
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { attachJob, FailedJobError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, chatty, env, fails, resumableCount, sleepMs } from '../dist/fixtures/tasks.js'
import { distPath, distUrl, FIXTURES } from './helpers/paths.js'
import { needsCluster } from './slurm-cluster.js'

const skip = needsCluster(t)
const opts = { ...skip, timeout: 240_000 }
// a nasty folder: spaces, quotes and a shell injection attempt must all survive
const nasty = (dir: string) => path.join(dir, `a b'c "d" '; echo foo`, '%j')

t.test('submit → result, in a folder with spaces, quotes and a shell injection', opts, async (t) => {
  const folder = nasty(t.testdir())
  const ex = new SlurmExecutor({ folder, timeoutMin: 5 })
  const job = await ex.submit(add, 20, 22)
  t.match(job.jobId, /^\d+$/)
  t.equal(await job.result(), 42)
  t.equal(job.state, 'COMPLETED')
  t.ok(fs.existsSync(job.paths.resultFile(0)), 'result file on disk')
  t.ok(fs.existsSync(job.paths.submitted), 'submission on disk')
  t.ok(fs.existsSync(path.join(job.paths.folder, `${job.jobId}_submission.sh`)), 'batch script kept beside the job')
  t.notOk(fs.existsSync(path.join(path.dirname(path.dirname(folder)), 'foo')), 'nothing was injected')
})

t.test('a task that throws: FAILED, with the remote stack', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 5 })
  const job = await ex.submit(fails, 'on the node')
  const err = await job.exception()
  t.ok(err instanceof FailedJobError)
  t.match(err!.message, /ValidationError: on the node/)
  t.match(err!.remoteStack ?? '', /fixtures\/tasks\.[jt]s/)
  await t.rejects(job.result(), FailedJobError)
  await job.wait()
  t.equal(job.state, 'FAILED')
  t.match(job.stderr() ?? '', /ValidationError: on the node/, "the stack is in the task's stderr log too")
})

t.test('scancel: a running job ends CANCELLED and says so', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 5 })
  const job = await ex.submit(sleepMs, 120_000, 1)
  for (let i = 0; i < 300 && job.state !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 100))
  t.equal(job.state, 'RUNNING')
  await job.cancel()
  t.equal(job.state, 'CANCELLED')
  const err = await job.exception()
  t.match(err?.message ?? '', /CANCELLED/)
})

t.test('tasksPerNode: 2 runs two ranks, each with its own log file', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 5, tasksPerNode: 2 })
  const job = await ex.submit(env)
  const results = await job.results()
  t.same(
    results.map((r) => r.globalRank),
    [0, 1],
  )
  t.same(
    results.map((r) => r.localRank),
    [0, 1],
  )
  t.same(
    results.map((r) => r.numTasks),
    [2, 2],
  )
  t.same(
    results.map((r) => r.jobId),
    [job.jobId, job.jobId],
  )
  await t.rejects(job.result(), /2 tasks: use results\(\)/)

  const logs = await ex.submit(chatty, 5)
  await logs.wait()
  t.equal(logs.stdout(0), 'out 5\n')
  t.equal(logs.stdout(1), 'out 5\n')
  t.match(logs.stderr(1) ?? '', /err 5/)
})

t.test('state polling with accounting off (sacct failing): squeue and the result files', opts, async (t) => {
  const commands = { bin: { sacct: path.join(FIXTURES, 'slurm-off', 'sacct') } }
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 5, commands })
  const [ok, slow] = [await ex.submit(add, 1, 1), await ex.submit(sleepMs, 120_000, 0)]
  t.equal(await ok.result(), 2)
  for (let i = 0; i < 300 && slow.state !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 100))
  t.equal(slow.state, 'RUNNING', 'RUNNING seen through squeue')
  await slow.cancel()
  t.equal(slow.state, 'CANCELLED', 'CANCELLED seen through squeue')
})

t.test('a job re-attached from another process', opts, async (t) => {
  const folder = path.join(t.testdir(), '%j')
  const ex = new SlurmExecutor({ folder, timeoutMin: 5 })
  const job = await ex.submit(add, 2, 3)
  const script = `
    import { attachJob } from ${JSON.stringify(distUrl('lib/index.js'))}
    const job = attachJob(process.argv[1], process.argv[2])
    const value = await job.result()
    console.log(JSON.stringify({ value, state: job.state, args: (await job.submission()).args }))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, folder, job.jobId], { encoding: 'utf8', timeout: 120_000 })
  t.equal(r.status, 0, r.stderr)
  t.same(JSON.parse(r.stdout), { value: 5, state: 'COMPLETED', args: [2, 3] })
  t.equal(attachJob(folder, job.jobId).state, 'COMPLETED', 'and from this one')
})

t.test('one user script, unchanged, on the LocalExecutor and on Slurm (AutoExecutor)', opts, async (t) => {
  const dir = t.testdir()
  const run = (cluster: string) =>
    spawnSync(process.execPath, [distPath('examples/sweep.js'), path.join(dir, cluster, '%j')], {
      env: { ...process.env, SUBMITIT_CLUSTER: cluster },
      encoding: 'utf8',
      timeout: 180_000,
    })
  const local = run('local')
  const slurm = run('slurm')
  t.equal(local.status, 0, local.stderr)
  t.equal(slurm.status, 0, slurm.stderr)
  t.match(local.stdout, /^cluster=local jobs=5 best lr=0\.3 /)
  t.equal(slurm.stdout.replace('cluster=slurm', 'cluster=local'), local.stdout, 'the same results')
})

t.test('cancelAtExit: a script that exits cancels its unfinished jobs', opts, async (t) => {
  const folder = path.join(t.testdir(), '%j')
  const script = `
    import { SlurmExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
    import { sleepMs } from ${JSON.stringify(distUrl('fixtures/tasks.js'))}
    const ex = new SlurmExecutor({ folder: process.argv[1], cancelAtExit: true, timeoutMin: 5 })
    const job = await ex.submit(sleepMs, 120_000, 0)
    console.log(job.jobId)`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, folder], { encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, r.stderr)
  const job = attachJob(folder, r.stdout.trim())
  await job.wait()
  t.equal(job.state, 'CANCELLED')
  const e = await job.exception()
  t.match(e?.message ?? '', /ended as CANCELLED without writing its result file/)
})

t.test("checkpoint and requeue: SIGUSR2 saves the task's progress, the job runs again from it", opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 5 })
  const job = await ex.submit(resumableCount, 400, 0, 50)
  // wait until it has made some progress, then warn it as Slurm does before a time limit or a preemption
  for (let i = 0; i < 600 && !/step 5\b/.test(job.stdout() ?? ''); i++) await new Promise((r) => setTimeout(r, 100))
  t.match(job.stdout() ?? '', /step 5\b/, 'running')
  execFileSync('scancel', ['--signal=USR2', job.jobId])
  const result = await job.result()
  t.ok(result.from >= 5 && result.from < 400, `the rerun started from the checkpoint (step ${result.from})`)
  t.equal(result.restarts, 1, 'JobEnvironment.restarts counts the requeue')
  t.ok(fs.existsSync(job.paths.checkpoint), 'the checkpoint is on disk')
  t.match(job.stderr() ?? '', /checkpoint saved[\s\S]*resumes from its checkpoint/)
  t.equal(job.state, 'COMPLETED')
})
